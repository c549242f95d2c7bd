"""Where the ``hil`` commands look when not told: the bench, the card library and the fleet
program, relative to the working folder (a checkout or a bench workspace)."""

from __future__ import annotations

from pathlib import Path

DEFAULT_BENCH = Path("fixtures/benches/sim.toml")
DEFAULT_CARDS = Path("procedures")
DEFAULT_PROGRAM = Path("fixtures/fleet/program.toml")
DEFAULT_DEVICE = Path("fixtures/devices/fc.toml")
