"""Card LL-22-10-00-730-801: closed-loop nominal descent rehearsal.

Flies the nominal powered descent (PDI at 15 km, 1.68 km/s, healthy sensors) with the flight
computer under test: the bench's truth dynamics and sensor models feed it over the real links
and its engine and thrust-direction commands close the loop, in lockstep on a simulated bench
and in real time against hardware. The card then judges the touchdown against the limits of
``hil.flight.touchdown`` (|v_vertical| <= 2 m/s, |v_horizontal| <= 1 m/s, tilt <= 10 deg,
propellant left > 0),
checks the FC declared LANDED and that the LRF gave its first valid range near 3 km.
"""

from __future__ import annotations

from procedures._descent import first_valid_lrf_range_m, fly, touchdown_steps

from hil.cards import Card, action, measurement

SCENARIO = "nominal"
SEED = 0


CARD = Card(
    number="LL-22-10-00-730-801",
    revision="C",
    title="Closed-loop nominal descent rehearsal",
    effectivity=("HR-M3",),
    interval="After FC software load or guidance/navigation parameter change; before every "
    "descent campaign",
    equipment=(
        "HIL bench with the flight computer under test; lockstep when every device is "
        "simulated, real time against hardware",
        "Scenario nominal (scenarios/nominal.toml) and terrain map 'nominal'",
    ),
    warnings=(),
    cautions=(
        "On a hardware bench the descent flies the FC in real time for about 11 minutes: the "
        "FC commands the engine emulator throughout. Do not command the FC while it flies.",
    ),
    notes=(
        "The descent flies the flight computer this card runs on, over the bench's own links. "
        "In lockstep it takes about 20 s.",
        "The trajectory, bus log, profile plot and summary are written to "
        "runs/descent-nominal-seed0-<card>-<UTC>; the folder is logged in step 1. Keep it "
        "with the as-run record.",
        "Touchdown limits: |v_vertical| <= 2 m/s, |v_horizontal| <= 1 m/s, tilt "
        "<= 10 deg, propellant left > 0 (at least 0.1 kg, the gauge resolution; marginal below "
        "10 kg).",
        "Step 7: the LRF is specified valid from 3000 m slant range, so the first valid range "
        "must come between 2500 m and 3000 m plus three sigma of its range noise (1 m + 0.2 %, "
        "6 m at 3 km): 3020 m. HAKUTO-R Mission 2 saw its first valid range below 900 m; that "
        "descent would fail here.",
    ),
    roles=("flight_computer",),
    lockstep=True,
    steps=(
        action(
            1,
            "Fly the FC under test through the nominal powered descent (seed 0). Record the "
            "verdict and the output folder.",
            run=fly(SCENARIO, SEED),
        ),
        *touchdown_steps(2),
        measurement(
            7,
            "Record the first valid LRF range of the descent.",
            name="lrf_first_valid_range",
            unit="m",
            low=2500.0,
            high=3020.0,  # 3000 m specified + 3 sigma of range noise at 3 km
            marginal=100.0,
            measure=first_valid_lrf_range_m,
            on_fail="continue",
        ),
    ),
)
