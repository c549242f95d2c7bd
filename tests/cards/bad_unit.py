"""Load error: a measurement with limits but no unit."""

from hil.cards import Card, measurement

CARD = Card(
    number="LL-99-00-00-710-003",
    revision="A",
    title="Bad card: limit without unit",
    steps=(
        measurement(  # error: limits, no unit
            1,
            "Measure the heartbeat rate.",
            name="heartbeat_rate",
            unit="",
            low=9.5,
            high=10.5,
            measure=lambda ctx: 10.0,
        ),
    ),
)
