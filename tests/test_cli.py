"""The `hil` command as a user runs it: verdicts, exit codes, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LAB_BENCH, SIM_BENCH

from hil.cli.main import main


def test_bench_check_on_the_simulated_bench_passes(
    tmp_path: Path, channel: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = tmp_path / "sim.toml"
    text = SIM_BENCH.read_text().replace('"hil-sim"', f'"{channel}"')
    bench.write_text(
        text.replace('"../can/lander.dbc"', f'"{SIM_BENCH.parent.parent}/can/lander.dbc"')
    )
    assert main(["bench", "check", "--bench", str(bench)]) == 0
    out = capsys.readouterr().out
    assert "bench check: PASS" in out
    for item in ("IMU", "LRF", "ENGINE", "CAN", "PARAMETERS"):
        assert f"{item}  " in out
    assert "FC_Heartbeat" in out and "SimFlightComputer" in out


def test_unavailable_can_interface_is_one_line_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["bench", "check", "--bench", str(LAB_BENCH)]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("hil: CAN interface 'socketcan' channel 'can0'")
    assert "\n" not in err


def test_missing_serial_port_is_one_line_naming_it(
    tmp_path: Path, channel: str, capsys: pytest.CaptureFixture[str]
) -> None:
    bench = tmp_path / "lab.toml"
    text = (
        LAB_BENCH.read_text().replace('"socketcan"', '"virtual"').replace('"can0"', f'"{channel}"')
    )
    bench.write_text(
        text.replace('"../can/lander.dbc"', f'"{SIM_BENCH.parent.parent}/can/lander.dbc"')
    )
    assert main(["bench", "check", "--bench", str(bench)]) == 3
    err = capsys.readouterr().err.strip()
    assert err == "hil: fc-maintenance port '/dev/ttyUSB0': No such file or directory"


def test_missing_bench_file_and_backend_listing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "check", "--bench", str(tmp_path / "none.toml")]) == 2
    assert capsys.readouterr().err.strip().endswith("none.toml: bench file not found")
    assert main(["bench", "backends"]) == 0
    out = capsys.readouterr().out
    assert "flight_computer  sim, wire" in out
