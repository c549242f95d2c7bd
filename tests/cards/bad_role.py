"""Load error: a device role no bench has."""

from hil.cards import Card, action

CARD = Card(  # error: unknown role
    number="LL-99-00-00-710-005",
    revision="A",
    title="Bad card: unknown role",
    roles=("flight_computer", "star_tracker"),
    steps=(action(1, "Do nothing.", run=lambda ctx: None),),
)
