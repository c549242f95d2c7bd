"""A small card for the cards-core tests: every step kind, a monitor and a teardown."""

from __future__ import annotations

from hil.cards import Card, Monitor, StepContext, action, inspection, measurement, prompt


def ping_fc(ctx: StepContext) -> None:
    ctx.state["pinged"] = True
    ctx.log(f"PING round trip {ctx.fc.ping() * 1000:.2f} ms")


def ping_ms(ctx: StepContext) -> float:
    return ctx.fc.ping() * 1000.0


def cpu_load_pct(ctx: StepContext) -> float:
    heartbeat = ctx.fc.wait_heartbeat(timeout_s=2.0)
    ctx.record("fc_mode", heartbeat.mode)
    return heartbeat.cpu_load_pct


def put_fc_safe(ctx: StepContext) -> None:
    ctx.log(f"FC {ctx.fc.safe()}")


CARD = Card(
    number="LL-99-00-00-710-001",
    revision="A",
    title="Cards-core test card: FC ping, CPU load, fan and connector",
    effectivity=("HR-M3",),
    interval="On demand (tests)",
    equipment=("Simulated bench",),
    warnings=("Test card only: do not use on a flight article.",),
    cautions=("None.",),
    notes=("Used by tests/test_cards_core.py.",),
    roles=("flight_computer",),
    steps=(
        action(1, "Ping the flight computer on the maintenance port.", run=ping_fc),
        measurement(
            2,
            "Measure the maintenance-port PING round trip.",
            name="ping_round_trip",
            unit="ms",
            low=0.0,
            high=200.0,
            measure=ping_ms,
        ),
        measurement(
            3,
            "Measure the FC CPU load from the heartbeat.",
            name="cpu_load",
            unit="%",
            low=0.0,
            high=90.0,
            marginal=1.0,
            measure=cpu_load_pct,
            monitors=(Monitor("FC_Heartbeat.CpuLoad", red=(0, 95), yellow=(0, 80), unit="%"),),
        ),
        prompt(4, "Is the FC cooling fan running?", answers=("yes", "no"), expect="yes"),
        inspection(
            5,
            "Inspect connector J1 on the FC for bent pins and corrosion.",
            criterion="No bent, pushed-back or corroded pins",
            rii=True,
        ),
    ),
    teardown=put_fc_safe,
)
