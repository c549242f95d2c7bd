"""Bench configuration: the shipped files load, and every mistake names file, table and key."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import LAB_BENCH, ROOT, SIM_BENCH

from hil.bench import Bench
from hil.bench.assembly import lockstep_refusal
from hil.core.config import load_bench
from hil.errors import BackendNotFound, ConfigError

SIM_TEXT = SIM_BENCH.read_text()


def write_bench(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bench.toml"
    database = (ROOT / "hil" / "data" / "can" / "lander.dbc").as_posix()
    path.write_text(text.replace('"../can/lander.dbc"', f'"{database}"'))
    return path


def test_simulated_bench_loads_with_every_role_simulated() -> None:
    config = load_bench(SIM_BENCH)
    assert config.name == "sim"
    assert config.can.interface == "virtual"
    assert config.can.database.name == "lander.dbc" and config.can.database.is_file()
    assert {role: d.backend for role, d in config.devices.items()} == {
        "flight_computer": "sim",
        "imu": "sim",
        "range_finder": "sim",
        "velocimeter": "sim",
        "engine": "sim",
    }
    assert lockstep_refusal(config) is None  # every backend declares itself simulated


def test_lab_example_describes_real_ports_without_opening_them() -> None:
    config = load_bench(LAB_BENCH)
    assert config.can.interface == "socketcan" and config.can.channel == "can0"
    fc = config.devices["flight_computer"]
    imu = config.devices["imu"]
    assert fc.serial is not None and fc.serial.url == "/dev/ttyUSB0"
    assert fc.serial.baudrate == 115200
    assert imu.serial is not None and imu.serial.baudrate == 921600
    refusal = lockstep_refusal(config)
    assert refusal is not None and "flight_computer: wire" in refusal


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (("bitrate = 1000000", "bitrate = 1000000\nbitrat = 5"), r"\[can\] bitrat: unknown key"),
        (("bitrate = 1000000", 'bitrate = "fast"'), r"\[can\] bitrate: expected int, got str"),
        (('channel = "hil-sim"\n', ""), r"\[can\] channel: missing"),
        (("[devices.engine]", "[devices.thruster]"), r"\[devices\] thruster: unknown device role"),
        (('name = "sim"', "name = 3"), r"\[bench\] name: expected str, got int"),
        (
            ("[devices.imu]\nbackend", "[devices.imu]\nbackends"),
            r"\[devices.imu\] backend: missing",
        ),
        (
            (
                '[devices.range_finder]\nbackend = "sim"',
                '[devices.range_finder]\nbackend = "wire"\n'
                '[devices.range_finder.serial]\nurl = "x"\nbaudrate = 1',
            ),
            r"\[devices.range_finder\] serial: role range_finder talks CAN only",
        ),
    ],
)
def test_mistakes_name_file_table_and_key(
    tmp_path: Path, change: tuple[str, str], expected: str
) -> None:
    old, new = change
    assert old in SIM_TEXT
    path = write_bench(tmp_path, SIM_TEXT.replace(old, new, 1))
    with pytest.raises(ConfigError, match=expected) as caught:
        load_bench(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message


def test_a_backend_that_needs_a_serial_port_without_one_is_named(tmp_path: Path) -> None:
    """The wire IMU declares it needs a serial port; the bench reads that from the class."""
    text = SIM_TEXT.replace('[devices.imu]\nbackend = "sim"', '[devices.imu]\nbackend = "wire"')
    path = write_bench(tmp_path, text)
    config = load_bench(path)
    with pytest.raises(
        ConfigError, match=r"\[devices.imu\] serial: missing table: backend 'wire' needs a serial"
    ) as caught:
        Bench(config)
    assert str(caught.value).startswith(str(path)) and "\n" not in str(caught.value)


def test_missing_role_is_named(tmp_path: Path) -> None:
    text = SIM_TEXT.replace('[devices.engine]\nbackend = "sim"\n', "")
    with pytest.raises(ConfigError, match=r"\[devices\] engine: missing device role"):
        load_bench(write_bench(tmp_path, text))


def test_invalid_toml_and_missing_file_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="bench file not found"):
        load_bench(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_bench(write_bench(tmp_path, "[bench\nname="))


def test_missing_can_database_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bench.toml"
    path.write_text(SIM_TEXT)  # ../can/lander.dbc does not exist next to tmp_path
    with pytest.raises(ConfigError, match=r"\[can\] database: file not found"):
        load_bench(path)


def test_unknown_backend_lists_those_that_exist(tmp_path: Path) -> None:
    text = SIM_TEXT.replace(
        '[devices.engine]\nbackend = "sim"', '[devices.engine]\nbackend = "simm"'
    )
    config = load_bench(write_bench(tmp_path, text))
    with pytest.raises(
        BackendNotFound,
        match=r"unknown backend 'simm' for role 'engine'; "
        r"available: sim, wire",
    ):
        Bench(config)


def test_simulated_sensor_without_simulated_fc_is_refused(tmp_path: Path) -> None:
    text = SIM_TEXT.replace(
        '[devices.flight_computer]\nbackend = "sim"',
        '[devices.flight_computer]\nbackend = "wire"\n[devices.flight_computer.serial]\n'
        'url = "loop://"\nbaudrate = 115200',
    )
    config = load_bench(write_bench(tmp_path, text))
    bench = Bench(config)
    with pytest.raises(ConfigError, match=r"simulated devices need .*flight_computer.* 'wire'"):
        bench.open()
