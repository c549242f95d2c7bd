"""The ICD in one place: the CAN database's value tables and rates are what every part of the
bench uses, and the flight software's own numbers agree with them."""

from __future__ import annotations

import cantools
import pytest

from hil.drivers.sim import fc_device
from hil.errors import ConfigError
from hil.fsw.modes import Mode, Phase
from hil.protocol import icd
from hil.protocol.parameters import PARAMETERS


def test_modes_and_phases_are_the_dbc_value_tables() -> None:
    database = cantools.database.load_file(icd.ICD_DATABASE)
    mode = database.get_message_by_name("FC_Heartbeat").get_signal_by_name("Mode")
    assert dict(mode.choices) == dict(enumerate(icd.FC_MODES))
    assert icd.FC_MODES[:2] == ("SAFE", "STANDBY") and icd.FC_MODES[-1] == "ABORT"
    assert len(icd.GUIDANCE_PHASES) == 5


def test_the_flight_software_numbers_modes_and_phases_as_the_icd_does() -> None:
    assert [(m.value, m.name) for m in Mode] == list(enumerate(icd.FC_MODES))
    assert [(p.value, p.name) for p in Phase] == list(enumerate(icd.GUIDANCE_PHASES))


def test_error_codes_and_rates_come_from_the_database() -> None:
    assert icd.ERROR_CODES[5] == "BAD_CHECKSUM" and icd.ERROR_NUMBERS["BAD_VALUE"] == 6
    assert icd.MESSAGE_PERIODS_S["FC_Heartbeat"] == pytest.approx(0.1)
    assert icd.MESSAGE_PERIODS_S["ENG_Cmd"] == pytest.approx(0.02)
    # the simulated FC sends at the ICD's rates
    assert icd.MESSAGE_PERIODS_S["FC_Heartbeat"] == fc_device.HEARTBEAT_PERIOD_S
    assert icd.MESSAGE_PERIODS_S["ACS_Cmd"] == fc_device.COMMAND_PERIOD_S


def test_mode_names_for_any_number() -> None:
    assert icd.mode_name(7) == "LANDED"
    assert icd.mode_name(float("nan")) == "-"
    assert icd.mode_name(12) == "?"


def test_the_parameter_table_names_the_fc_parameters_cards_use() -> None:
    for name in ("GATE_POLICY", "LRF_GATE_M", "LRF_GATE_FRACTION", "TOUCHDOWN_RULE"):
        assert name in PARAMETERS
    assert PARAMETERS["GATE_POLICY"].choices == ("latch", "recover")


def test_a_database_without_a_mode_value_table_is_refused(tmp_path: object) -> None:
    text = icd.ICD_DATABASE.read_text()
    broken = "\n".join(line for line in text.splitlines() if not line.startswith("VAL_ 16 Mode"))
    database = cantools.database.load_string(broken, database_format="dbc")
    with pytest.raises(ConfigError, match=r"FC_Heartbeat.Mode needs a value table"):
        icd._choices(database, "FC_Heartbeat", "Mode")
