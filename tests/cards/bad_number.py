"""Load error: a card number that is not ATA style."""

from hil.cards import Card, action

CARD = Card(  # error: bad number
    number="LL-31-10-710-801",
    revision="A",
    title="Bad card: bad number",
    steps=(action(1, "Do nothing.", run=lambda ctx: None),),
)
