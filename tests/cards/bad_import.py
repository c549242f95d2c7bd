"""Load error: the module fails while importing."""

from hil.cards import Card, action

LIMIT_HZ = 10.0 / 0  # error: import fails

CARD = Card(
    number="LL-99-00-00-710-006",
    revision="A",
    title="Bad card: import error",
    steps=(action(1, "Do nothing.", run=lambda ctx: None),),
)
