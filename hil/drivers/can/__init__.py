"""CAN: the ICD's messages on a python-can bus, with counters, CRCs, statistics and a log.

The public face of the package; its modules, one concern each:

* ``crc`` - CRC-8/SAE-J1850, the CRC byte of the ICD's frames;
* ``codec`` - the CAN database (``load_database``) and encoding/decoding of its messages with
  the rolling ``Counter`` and the ``CRC`` (pure: no live state);
* ``stats`` - per-message and per-link counters, and their snapshots;
* ``reception`` - the receive path: check, decode, publish, subscribers, the listener;
* ``periodic`` - periodic sends (``PeriodicSend``);
* ``link`` - ``CanLink``: the bus, the Notifier thread and the bus log, assembled.
"""

from __future__ import annotations

from hil.drivers.can.codec import (
    COUNTER_SIGNAL,
    CRC_SIGNAL,
    SignalValues,
    load_database,
)
from hil.drivers.can.crc import crc8_sae_j1850
from hil.drivers.can.link import CanLink
from hil.drivers.can.periodic import PeriodicSend
from hil.drivers.can.reception import Subscriber
from hil.drivers.can.stats import (
    RATE_WINDOW_S,
    STATS_COLUMNS,
    LinkStats,
    MessageStats,
    StatsRow,
    stats_rows,
)

__all__ = [
    "COUNTER_SIGNAL",
    "CRC_SIGNAL",
    "RATE_WINDOW_S",
    "STATS_COLUMNS",
    "CanLink",
    "LinkStats",
    "MessageStats",
    "PeriodicSend",
    "SignalValues",
    "StatsRow",
    "Subscriber",
    "crc8_sae_j1850",
    "load_database",
    "stats_rows",
]
