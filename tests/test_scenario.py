"""Scenario files: the shipped ones load, and mistakes name file, table and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.errors import ConfigError
from hil.scenario import load_scenario, scenario_names


def test_nominal_scenario_sets_the_fc_and_the_imu() -> None:
    scenario = load_scenario("nominal")
    assert "nominal" in scenario_names()
    assert scenario.fc_parameters["GATE_POLICY"] == "recover"
    assert scenario.model.imu.gyro_arw_deg_per_sqrt_h == 0.01
    assert scenario.model.lrf.max_valid_range_m == 3000.0  # untouched defaults stay


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[imu]\ngyro_arw = 0.1\n", r"\[imu\] gyro_arw: unknown key"),
        (
            '[lrf]\nmax_valid_range_m = "far"\n',
            r"\[lrf\] max_valid_range_m: expected float, got str",
        ),
        ("[fc]\nGATE_POLICY = true\n", r"\[fc\] GATE_POLICY: expected a string or number"),
        ("[weather]\nwind = 3\n", r"weather: unknown key"),
        ("[uplink_error]\nvelocity_mps = 3\n", r"\[uplink_error\] velocity_mps: expected list"),
    ],
)
def test_mistakes_are_named(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nname = "bad"\n' + text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(str(path))


def test_uplink_error_vector_is_read_as_floats(tmp_path: Path) -> None:
    path = tmp_path / "error.toml"
    path.write_text(
        '[scenario]\nname = "e"\n[uplink_error]\naltitude_m = 900\nvelocity_mps = [0, 0, 2]\n'
    )
    scenario = load_scenario(path)
    assert scenario.model.errors.altitude_m == 900.0
    assert scenario.model.errors.velocity_mps == (0.0, 0.0, 2.0)
