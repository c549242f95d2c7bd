"""Fleet maintenance program: landers that fly again and again, airline style.

::

    with open_store("postgresql://hil@records.lab/hil") as store, Fleet(store) as fleet:
        fleet.load_program(load_program(DATA_DIR / "fleet" / "program.toml"))
        fleet.add_lander("LL1-003", "LL-1", "baseline", date(2026, 1, 15))
        fleet.log_usage("LL1-003", read_usage("runs/descent-nominal-..."))
        for item in fleet.due("LL1-003"):
            print(item.card_number, item.status, item.describe())
        fleet.release("LL1-003", "insp.lee", secret)   # ReleaseRefused lists every reason

Counters, limits and MEL arithmetic are in ``model``, the aggregates as stored in
``entities``, the program file in ``program``, flight usage in ``usage``. ``Fleet``
(``service``) is a thin facade over one service per aggregate: ``landers`` (counters and
usage), ``components``, ``maintenance`` (program and due items), ``defects`` (and MEL
deferrals), ``packages`` (work packages) and ``release`` (release to service), with the signed
records they write in ``signing``. The SQL lives only in ``repositories`` (one per table
family) and in ``db``, the one connection layer and the schema (the record store's own
``store.sql()``, SQLite or PostgreSQL; several benches may share it).
"""

from __future__ import annotations

from hil.fleet.db import FleetDb
from hil.fleet.errors import (
    CounterError,
    DeferralRefused,
    DuplicateUsage,
    FleetError,
    ReleaseRefused,
    UnknownSerial,
)
from hil.fleet.model import (
    CATEGORY_DAYS,
    COUNTERS,
    DUE_SOON,
    OK,
    OVERDUE,
    Counters,
    Deferral,
    DueItem,
    Task,
    compute_due,
    deferral_limit_date,
)
from hil.fleet.program import Program, load_program
from hil.fleet.service import (
    DEFECT_CARD,
    RELEASE_CARD,
    Component,
    Defect,
    Fleet,
    Lander,
    Release,
    SyncReport,
    WorkPackage,
)
from hil.fleet.usage import Usage, read_usage

__all__ = [
    "CATEGORY_DAYS",
    "COUNTERS",
    "DEFECT_CARD",
    "DUE_SOON",
    "OK",
    "OVERDUE",
    "RELEASE_CARD",
    "Component",
    "CounterError",
    "Counters",
    "Defect",
    "Deferral",
    "DeferralRefused",
    "DueItem",
    "DuplicateUsage",
    "Fleet",
    "FleetDb",
    "FleetError",
    "Lander",
    "Program",
    "Release",
    "ReleaseRefused",
    "SyncReport",
    "Task",
    "UnknownSerial",
    "Usage",
    "WorkPackage",
    "compute_due",
    "deferral_limit_date",
    "load_program",
    "read_usage",
]
