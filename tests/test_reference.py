"""The reference check: the nominal descent beside Apollo 11's powered descent.

The nominal descent is flown once, model-only, as the full stack flies seed 0 (the same
dispersed lander); ``tests/test_descent.py`` checks the full-stack flight of its module
fixture against the same reference, so the two paths are held to the same figures.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from hil.errors import ConfigError
from hil.flight.reference import (
    FIGURES,
    FlownDescent,
    compare,
    fly_model_only,
    load_reference,
    measure,
    rows_text,
)
from hil.flight.scenario import load_scenario
from hil.fsw.modes import Mode


@pytest.fixture(scope="module")
def nominal() -> FlownDescent:
    return fly_model_only(load_scenario("nominal"), seed=0)


@pytest.mark.slow
def test_nominal_descent_is_within_apollo11s_tolerances(nominal: FlownDescent) -> None:
    reference = load_reference("apollo11")
    # every figure of a planned descent is checked (the rest say how a landing failed)
    assert [item.key for item in reference.values] == list(FIGURES[:6])
    rows = compare(reference, nominal)
    assert all(row.passed for row in rows), rows_text(rows)
    # the figures a user reads in the README (seed 0), to the unit shown there
    assert round(nominal.high_gate_time_s) == 550
    assert round(nominal.touchdown_time_s) == 687
    assert nominal.delta_v_mps == pytest.approx(1987, abs=1)


@pytest.mark.slow
def test_a_wrong_reference_misses(nominal: FlownDescent, tmp_path: Path) -> None:
    text = load_reference("apollo11").path.read_text()
    # a descent of twice Apollo 11's duration and an Earth-orbit delta-v
    wrong = tmp_path / "wrong.toml"
    wrong.write_text(
        text.replace("value = 755.0", "value = 1510.0").replace("value = 2000.0", "value = 9400.0")
    )
    rows = {row.label: row for row in compare(load_reference(wrong), nominal)}
    assert not rows["touchdown after PDI"].passed
    assert not rows["total delta-v"].passed
    assert rows["PDI speed"].passed and rows["high gate after PDI"].passed
    cells = {cell[0]: cell for cell in rows_text(list(rows.values()))}
    assert cells["total delta-v"][-1] == "MISS" and cells["PDI speed"][-1] == "PASS"


def test_a_descent_that_never_reaches_the_high_gate_misses_it() -> None:
    time_s = np.arange(0.0, 60.0, 0.1)
    mode = np.where(time_s >= 10.0, float(Mode.BRAKING), float(Mode.ARMED))
    flown = measure(
        time_s,
        mode,
        np.full(time_s.shape, 15_000.0),
        np.full(time_s.shape, 1680.0),
        np.where(mode == Mode.BRAKING, 2.5, 0.0),
        None,
    )
    assert flown.pdi_altitude_m == 15_000.0 and flown.pdi_speed_mps == 1680.0
    assert math.isnan(flown.high_gate_time_s) and math.isnan(flown.touchdown_time_s)
    rows = compare(load_reference("apollo11"), flown)
    assert [row.passed for row in rows] == [True, True, False, False, False, False]
    assert rows_text(rows)[2][2] == "not reached"


def test_reference_files_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"unknown reference 'apollo12'; references: .*apollo11"):
        load_reference("apollo12")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[reference]\nname = "bad"\n[[quantity]]\nkey = "max_q_pa"\nvalue = 1.0\ntolerance = 1.0\n'
    )
    with pytest.raises(ConfigError, match=r"unknown figure 'max_q_pa'; figures: pdi_altitude_m"):
        load_reference(bad)
    bad.write_text(
        '[reference]\nname = "bad"\n[[quantity]]\nkey = "delta_v_mps"\nvalue = 1.0\ntolerance = 0\n'
    )
    with pytest.raises(ConfigError, match=r"tolerance: must be > 0"):
        load_reference(bad)
