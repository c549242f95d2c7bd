"""Card LL-22-10-00-730-802: crater-rim regression (HAKUTO-R Mission 1).

Reads the navigation settings the flight computer under test is configured with (innovation
gate policy and size, touchdown rule) and flies that flight computer over the F1 crater rim
with them: a ~3 km cliff under the ground track that the onboard map does not show (the
terrain of scenario ``f1-crater-rim-recover``; the card sets the gate itself). The LRF
range jumps by the height of the cliff at the rim. A flight computer that rejects the LRF for good
there (the `latch` policy of Mission 1) believes it has landed while kilometres up, hovers
until its propellant is gone and falls; this card fails it. One that re-anchors on the
crater floor (`recover`) lands.

Rev C: the rim alone. Scenario ``f1-crater-rim`` now also has the crater floor's unmapped
2.5 km inner slope (its assumption [A1], which brings Mission 1's figures within 20 %); over
that slope the simulated FC's `recover` gate runs its tanks dry as well, so a card flown
there would fail every FC this project has, and say nothing about the gate at the rim.
"""

from __future__ import annotations

from procedures._descent import fly, lrf_rejected_for_good, touchdown_steps

from hil.cards import Card, StepContext, action, measurement

SCENARIO = "f1-crater-rim-recover"  # its terrain; the gate is the FC's own
SEED = 0
SETTINGS = ("GATE_POLICY", "LRF_GATE_M", "LRF_GATE_FRACTION", "TOUCHDOWN_RULE")


def read_fc_settings(ctx: StepContext) -> None:
    settings = {name: ctx.fc.get_param(name) for name in SETTINGS}
    ctx.state["fc_parameters"] = settings
    for name, value in settings.items():
        ctx.record(name.lower(), value, "")
    ctx.log(
        "FC navigation settings under test: " + ", ".join(f"{k}={v}" for k, v in settings.items())
    )


CARD = Card(
    number="LL-22-10-00-730-802",
    revision="C",
    title="Crater-rim regression: LRF range jump at a 3 km cliff (HAKUTO-R Mission 1)",
    effectivity=("HR-M3",),
    interval="After FC software load or any navigation parameter change; before every "
    "descent to a new landing site",
    equipment=(
        "HIL bench with the flight computer under test; lockstep when every device is "
        "simulated, real time against hardware",
        "Scenario f1-crater-rim-recover (scenarios/f1-crater-rim-recover.toml) (truth: nominal "
        "terrain with a 3 km cliff 12 km before the site; onboard map: nominal), flown with "
        "the FC's own gate settings",
    ),
    cautions=(
        "The descent is flown with the settings read from the FC in step 1. Do not change FC "
        "parameters while the card runs.",
    ),
    notes=(
        "HAKUTO-R Mission 1 (April 2023): passing a ~3 km crater-rim cliff made the LRF "
        "reading jump; the navigation judged the sensor faulty and rejected it for the rest "
        "of the descent, believed it was at 0 m while at ~5 km, hovered until the propellant "
        "was gone and fell. The landing site had changed after design review, so that "
        "terrain was never simulated. This card is that simulation.",
        "The descent flies the flight computer this card runs on, over the bench's own links. "
        "In lockstep it takes about 45 s with a recovering gate (longer when the FC hovers "
        "until dry); in real time about 11 minutes.",
    ),
    roles=("flight_computer",),
    lockstep=True,
    steps=(
        action(
            1,
            "Read the FC's navigation settings (GATE_POLICY, LRF_GATE_M, LRF_GATE_FRACTION, "
            "TOUCHDOWN_RULE) from the maintenance port and record them.",
            run=read_fc_settings,
        ),
        action(
            2,
            "Fly the FC under test over the F1 crater rim (scenario f1-crater-rim-recover, "
            "seed 0) with those settings. Record the verdict and the output folder.",
            run=fly(SCENARIO, SEED),
        ),
        measurement(
            3,
            "Verify the FC kept the LRF after the range jump at the rim (1 = rejected it for "
            "good, as on Mission 1).",
            name="lrf_rejected_for_good",
            unit="flag",
            low=0.0,
            high=0.0,
            measure=lrf_rejected_for_good,
            rii=True,
            on_fail="continue",
        ),
        *touchdown_steps(4),
    ),
)
