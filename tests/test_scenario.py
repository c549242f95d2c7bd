"""Scenario files: the shipped ones load, and mistakes name file, table and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hil.errors import ConfigError
from hil.flight.scenario import load_scenario, scenario_names


def test_nominal_scenario_sets_the_fc_and_the_imu() -> None:
    scenario = load_scenario("nominal")
    assert "nominal" in scenario_names()
    assert scenario.fc_parameters["GATE_POLICY"] == "recover"
    assert scenario.model.imu.gyro_arw_deg_per_sqrt_h == 0.1  # the specified IMU
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


def test_every_shipped_scenario_loads_and_builds_its_terrains() -> None:
    for name in scenario_names():
        scenario = load_scenario(name)
        truth = scenario.truth_terrain_profile()
        fc_map = scenario.fc_terrain_map_profile()
        assert truth.heights_m.size > 2 and fc_map.heights_m.size > 2
        # the model-only flight software is the one the simulated FC builds from [fc]
        policy = scenario.fc_parameters.get("GATE_POLICY", "recover")
        assert scenario.model.fsw.gate_policy == policy
        assert scenario.model.fsw.nav.gate_policy == policy


def test_f1_truth_has_the_crater_rim_cliff_the_onboard_map_lacks() -> None:
    scenario = load_scenario("f1-crater-rim")
    truth = scenario.truth_terrain_profile()
    fc_map = scenario.fc_terrain_map_profile()
    rim = scenario.terrain_features[0]
    assert (rim.kind, rim.height_m) == ("cliff", 3000.0)
    before, after = rim.x_m - 1000.0, rim.x_m + 1000.0
    assert float(truth.height_m(before)) == pytest.approx(float(fc_map.height_m(before)))
    assert float(fc_map.height_m(after) - truth.height_m(after)) == pytest.approx(3000.0)
    assert scenario.truth_terrain == "nominal"  # the base profile keeps its name
    assert scenario.model.fsw.gate_policy == "latch"
    assert scenario.model.fsw.touchdown_rule == "signature"


def test_features_cliff_and_crater_are_applied_in_order(tmp_path: Path) -> None:
    path = tmp_path / "features.toml"
    path.write_text(
        '[scenario]\nname = "f"\n[terrain]\ntruth = "nominal"\n'
        '[[terrain.features]]\nkind = "cliff"\nx_m = -50000\nheight_m = -500\n'
        '[[terrain.features]]\nkind = "crater"\nx_m = -100000\nradius_m = 1000\n'
        "depth_m = 300\nrim_height_m = 50\n"
    )
    scenario = load_scenario(path)
    assert [f.kind for f in scenario.terrain_features] == ["cliff", "crater"]
    assert scenario.terrain_features[0].width_m == 200.0  # default
    base = scenario.fc_terrain_map_profile()  # fc_map defaults to the truth name
    truth = scenario.truth_terrain_profile()
    rise = truth.height_m(-40000.0) - base.height_m(-40000.0)
    assert float(rise) == pytest.approx(500.0)  # negative height: terrain rises
    floor = truth.height_m(-100000.0) - base.height_m(-100000.0)
    assert float(floor) == pytest.approx(50.0 - 300.0)  # uprange of the cliff: rim - depth


def test_fc_parameters_configure_the_model_flight_software(tmp_path: Path) -> None:
    path = tmp_path / "fc.toml"
    path.write_text(
        '[scenario]\nname = "fc"\n[fc]\nGATE_POLICY = "LATCH"\nLRF_GATE_M = 250\n'
        'LRF_GATE_FRACTION = 0.2\nTHROTTLE_MIN_PCT = 30\nTOUCHDOWN_RULE = "altitude"\n'
    )
    fsw = load_scenario(path).model.fsw
    assert (fsw.gate_policy, fsw.nav.gate_policy) == ("latch", "latch")
    assert (fsw.nav.gate_min_m, fsw.nav.gate_fraction) == (250.0, 0.2)
    assert fsw.min_throttle == pytest.approx(0.3)
    assert fsw.touchdown_rule == "altitude"


def test_a_lander_profile_sets_the_guidance_targets_and_where_the_descent_starts(
    tmp_path: Path,
) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(
        '[scenario]\nname = "p"\n[fc]\nBRAKING_TIME_S = 750\nHIGH_GATE_X_M = -600\n'
        "HIGH_GATE_ALT_M = 3000\nHIGH_GATE_VX_MPS = 15\nHIGH_GATE_VZ_MPS = -80\n"
        "APPROACH_TIME_S = 65\n[pdi]\nposition_m = [-690000, 0, 15000]\n"
    )
    scenario = load_scenario(path)
    assert scenario.name == "p"  # not the last [fc] key read
    model = scenario.model
    guidance = model.fsw.guidance
    assert guidance.braking_time_s == 750.0
    assert guidance.high_gate_position_m == (-600.0, 0.0, 3000.0)
    assert guidance.high_gate_velocity_mps == (15.0, 0.0, -80.0)
    assert guidance.approach_time_s == 65.0
    assert model.pdi_position_m == (-690_000.0, 0.0, 15_000.0)
    assert model.pdi_velocity_mps == (1680.0, 0.0, 0.0)  # left out: the nominal PDI's


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[terrain]\n[[terrain.features]]\nkind = "volcano"\nx_m = 0\n',
            r"\[terrain.features\[0\]\] kind: 'volcano' is not one of cliff, crater",
        ),
        (
            '[terrain]\n[[terrain.features]]\nkind = "cliff"\nx_m = 0\n',
            r"\[terrain.features\[0\]\] height_m: missing",
        ),
        (
            '[terrain]\n[[terrain.features]]\nkind = "cliff"\nx_m = 0\nheight_m = 1\n'
            "radius_m = 3\n",
            r"\[terrain.features\[0\]\] radius_m: unknown key",
        ),
        (
            '[terrain]\n[[terrain.features]]\nkind = "crater"\nx_m = 0\nradius_m = 0\n'
            "depth_m = 1\n",
            r"\[terrain.features\[0\]\] radius_m: must be > 0",
        ),
        ('[fc]\nGATE_POLICY = "sometimes"\n', r"\[fc\] GATE_POLICY: GATE_POLICY must be one of"),
        ("[fc]\nLRF_GATE_M = 0\n", r"\[fc\] LRF_GATE_M: LRF_GATE_M must be within"),
        ("[pdi]\nposition_m = [1, 2]\n", r"\[pdi\] position_m: expected three numbers"),
        ("[pdi]\nposition_m = [0, 0, -5]\n", r"\[pdi\] position_m: altitude must be > 0"),
        ("[pdi]\nspeed = 3\n", r"\[pdi\] speed: unknown key"),
        ("[fc]\nHIGH_GATE_VZ_MPS = 10\n", r"\[fc\] HIGH_GATE_VZ_MPS: HIGH_GATE_VZ_MPS must be"),
        (
            "[fc]\nHIGH_GATE_ALT_M = nan\n",
            r"\[fc\] HIGH_GATE_ALT_M: HIGH_GATE_ALT_M must be a finite",
        ),
        ("[pdi]\nvelocity_mps = [inf, 0, 0]\n", r"\[pdi\] velocity_mps: expected three numbers"),
        # a misspelt key would fly the default in the model and be refused by the FC later
        ("[fc]\nHIGH_GATE_ALTITUDE_M = 2500\n", r"HIGH_GATE_ALTITUDE_M: not a settable FC param"),
        ('[fc]\nSERIAL = "SN9"\n', r"\[fc\] SERIAL: not a settable FC parameter; parameters: GATE"),
    ],
)
def test_feature_fc_and_profile_mistakes_are_named(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nname = "bad"\n' + text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(str(path))


def test_nominal_scenario_declares_its_dispersions() -> None:
    d = load_scenario("nominal").model.dispersions
    assert d.any
    assert (d.downrange_m, d.downrange_velocity_mps, d.isp_s) == (50.0, 1.0, 1.0)
    assert d.terrain_variants == 8 and isinstance(d.terrain_variants, int)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[dispersions]\nmass_kg = 7.5\n", r"\[dispersions\] mass_kg: unknown key"),
        ('[dispersions]\nisp_s = "1 s"\n', r"\[dispersions\] isp_s: expected float"),
        (
            "[dispersions]\nterrain_variants = 2.5\n",
            r"\[dispersions\] terrain_variants: expected int",
        ),
        ("[dispersions]\naltitude_m = -50.0\n", r"\[dispersions\] altitude_m: must be >= 0"),
    ],
)
def test_bad_dispersions_are_refused_naming_the_key(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[scenario]\nname = "bad"\n' + text)
    with pytest.raises(ConfigError, match=expected) as caught:
        load_scenario(path)
    assert str(caught.value).startswith(str(path))
