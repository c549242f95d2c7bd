"""Load error: a step of an unknown kind."""

from hil.cards import Card, action, step

CARD = Card(
    number="LL-99-00-00-710-002",
    revision="A",
    title="Bad card: unknown step kind",
    steps=(
        action(1, "Do nothing.", run=lambda ctx: None),
        step("calibration", 2, "Calibrate the IMU."),  # error: unknown kind
    ),
)
