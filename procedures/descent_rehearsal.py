"""Card LL-22-10-00-730-801: closed-loop nominal descent rehearsal.

Flies the nominal powered descent (PDI at 15 km, 1.68 km/s, healthy sensors) in lockstep: the
bench's truth dynamics and sensor models feed the flight computer over the real links and
its engine and thrust-direction commands close the loop. The descent runs on a bench of its
own on a private CAN channel; the card then judges the touchdown against the DESIGN 5 limits
(|v_vertical| <= 2 m/s, |v_horizontal| <= 1 m/s, tilt <= 10 deg, propellant left > 0),
checks the FC declared LANDED and that the LRF gave its first valid range near 3 km.
"""

from __future__ import annotations

from hil.cards import Card, action, measurement
from procedures._descent import first_valid_lrf_range_m, fly, touchdown_steps

SCENARIO = "nominal"
SEED = 0


CARD = Card(
    number="LL-22-10-00-730-801",
    revision="A",
    title="Closed-loop nominal descent rehearsal",
    effectivity=("HR-M3",),
    interval="After FC software load or guidance/navigation parameter change; before every "
    "descent campaign",
    equipment=(
        "HIL bench with simulated flight computer, sensors and engine (lockstep)",
        "Scenario fixtures/scenarios/nominal.toml and terrain map 'nominal'",
    ),
    warnings=(),
    cautions=(
        "Lockstep runs need every device simulated. On a hardware bench use the real-time "
        "descent (hil descent --realtime) under its own procedure; this card refuses to fly "
        "a hardware bench.",
    ),
    notes=(
        "The descent opens its own bench on the private CAN channel <bench channel>-descent, "
        "so it never shares a bus with the bench the card runs on. It takes about 35 s.",
        "The trajectory, bus log, profile plot and summary are written to "
        "runs/descent-nominal-seed0-<card>-<UTC>; the folder is logged in step 1. Keep it "
        "with the as-run record.",
        "Touchdown limits (DESIGN 5): |v_vertical| <= 2 m/s, |v_horizontal| <= 1 m/s, tilt "
        "<= 10 deg, propellant left > 0 (at least 0.1 kg, the gauge resolution; marginal below "
        "10 kg).",
        "Step 7: the LRF is specified valid from 3000 m slant range, so the first valid range "
        "must come between 2500 and 3000 m. HAKUTO-R Mission 2 saw its first valid range "
        "below 900 m; that descent would fail here.",
    ),
    roles=("flight_computer",),
    steps=(
        action(
            1,
            "Fly the nominal powered descent (seed 0, lockstep) on a private bench channel. "
            "Record the verdict and the output folder.",
            run=fly(SCENARIO, SEED),
        ),
        *touchdown_steps(2),
        measurement(
            7,
            "Record the first valid LRF range of the descent.",
            name="lrf_first_valid_range",
            unit="m",
            low=2500.0,
            high=3000.0,
            marginal=100.0,
            measure=first_valid_lrf_range_m,
            on_fail="continue",
        ),
    ),
)
