"""Load error: two steps with the same number."""

from hil.cards import Card, action

CARD = Card(
    number="LL-99-00-00-710-004",
    revision="A",
    title="Bad card: duplicate step number",
    steps=(
        action(1, "Do nothing.", run=lambda ctx: None),
        action(2, "Do nothing again.", run=lambda ctx: None),  # first step 2
        action(2, "Do nothing a third time.", run=lambda ctx: None),  # error: duplicate
    ),
)
