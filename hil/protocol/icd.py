"""What the interface control document defines, read once from its CAN database.

The ICD's CAN database (``hil/data/can/lander.dbc``) is the single source of truth for the
bus; everything else in the bench that names an FC mode, a guidance phase, a maintenance
port error code or a message rate reads it from here:

* ``FC_MODES`` — the value table of ``FC_Heartbeat.Mode``, in the order of their numbers;
* ``GUIDANCE_PHASES`` — the value table of ``FC_NavPosition.GuidancePhase``;
* ``ERROR_CODES`` — the value table ``MaintenanceError``: the ``$ERR code text`` replies of
  the FC's maintenance port (a serial protocol, kept in the same database so one file holds
  the whole ICD);
* ``MESSAGE_PERIODS_S`` — each message's ``GenMsgCycleTime`` in seconds.

A database that lacks one of these is a ``ConfigError`` naming the file and what is missing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import cantools

from hil.core.paths import DATA_DIR
from hil.errors import ConfigError

ICD_DATABASE = DATA_DIR / "can" / "lander.dbc"
"""The ICD's CAN database, as the package carries it."""


def _load(path: Path) -> cantools.database.can.Database:
    try:
        database = cantools.database.load_file(path, strict=True)
    except (OSError, cantools.database.Error, ValueError, KeyError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise ConfigError(f"CAN database {str(path)!r}: {reason}") from err
    if not isinstance(database, cantools.database.can.Database):
        raise ConfigError(f"CAN database {str(path)!r}: not a CAN database")
    return database


def _choices(
    database: cantools.database.can.Database, message: str, signal: str
) -> tuple[str, ...]:
    try:
        choices = database.get_message_by_name(message).get_signal_by_name(signal).choices
    except KeyError as err:
        raise ConfigError(
            f"CAN database {str(ICD_DATABASE)!r}: no signal {message}.{signal}"
        ) from err
    if not choices or sorted(choices) != list(range(len(choices))):
        raise ConfigError(
            f"CAN database {str(ICD_DATABASE)!r}: {message}.{signal} needs a value table "
            "numbered 0, 1, 2, ..."
        )
    return tuple(str(choices[number]) for number in range(len(choices)))


def _error_codes(database: cantools.database.can.Database) -> Mapping[int, str]:
    tables = database.dbc.value_tables if database.dbc is not None else {}
    table = tables.get("MaintenanceError")
    if not table:
        raise ConfigError(
            f"CAN database {str(ICD_DATABASE)!r}: no value table MaintenanceError "
            "(the maintenance port's error codes)"
        )
    return MappingProxyType({int(code): str(text) for code, text in sorted(table.items())})


def _periods(database: cantools.database.can.Database) -> Mapping[str, float]:
    periods: dict[str, float] = {}
    for message in database.messages:
        if not message.cycle_time:
            raise ConfigError(
                f"CAN database {str(ICD_DATABASE)!r}: message {message.name} has no GenMsgCycleTime"
            )
        periods[message.name] = message.cycle_time / 1000.0
    return MappingProxyType(periods)


_DATABASE = _load(ICD_DATABASE)

FC_MODES: tuple[str, ...] = _choices(_DATABASE, "FC_Heartbeat", "Mode")
"""Flight computer modes, in the order of their numbers on the wire (``FC_Heartbeat.Mode``)."""

GUIDANCE_PHASES: tuple[str, ...] = _choices(_DATABASE, "FC_NavPosition", "GuidancePhase")
"""Guidance phases, in the order of their numbers (``FC_NavPosition.GuidancePhase``)."""

ERROR_CODES: Mapping[int, str] = _error_codes(_DATABASE)
"""``$ERR code text`` codes of the maintenance port, by number."""

ERROR_NUMBERS: Mapping[str, int] = MappingProxyType({t: c for c, t in ERROR_CODES.items()})
"""The number of each maintenance port error text."""

MESSAGE_PERIODS_S: Mapping[str, float] = _periods(_DATABASE)
"""The ICD period of every CAN message, seconds."""


def mode_name(number: float) -> str:
    """``FC_Heartbeat.Mode`` as its name: ``"-"`` for NaN, ``"?"`` for a number the ICD
    does not define."""
    if number != number:  # NaN
        return "-"
    index = int(number)
    return FC_MODES[index] if 0 <= index < len(FC_MODES) else "?"
