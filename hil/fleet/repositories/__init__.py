"""The fleet's repositories: the only place in ``hil.fleet`` where SQL text lives (besides the
schema and its migrations in ``hil.fleet.db``). One repository per table family:

- ``LanderRepository``: ``fleet_landers``, ``fleet_counter_log``, ``fleet_usage``;
- ``ComponentRepository``: ``fleet_parts``, ``fleet_components``, ``fleet_component_history``;
- ``ProgramRepository``: ``fleet_tasks``, ``fleet_settings``, ``fleet_due_items``;
- ``DefectRepository``: ``fleet_defects``, ``fleet_deferrals``;
- ``PackageRepository``: ``fleet_packages``, ``fleet_package_items``;
- ``ReleaseRepository``: ``fleet_releases``.

Each runs its statements through one ``FleetDb``, so the same SQL works on SQLite and on
PostgreSQL (``?`` placeholders, ``ON CONFLICT`` upserts, ``lock=True`` reads that add
``FleetDb.lock_suffix``). A repository never opens a transaction: the service doing a business
action opens one (``FleetDb.transaction``) and every repository call inside joins it.
"""

from __future__ import annotations

from dataclasses import dataclass

from hil.fleet.db import FleetDb
from hil.fleet.repositories.components import ComponentRepository
from hil.fleet.repositories.defects import DefectRepository
from hil.fleet.repositories.landers import LanderRepository
from hil.fleet.repositories.packages import PackageRepository, PackageRow
from hil.fleet.repositories.program import ProgramRepository
from hil.fleet.repositories.releases import ReleaseRepository

__all__ = [
    "ComponentRepository",
    "DefectRepository",
    "LanderRepository",
    "PackageRepository",
    "PackageRow",
    "ProgramRepository",
    "ReleaseRepository",
    "Repositories",
]


@dataclass(frozen=True)
class Repositories:
    """One repository per table family, all over the same ``FleetDb``."""

    landers: LanderRepository
    components: ComponentRepository
    program: ProgramRepository
    defects: DefectRepository
    packages: PackageRepository
    releases: ReleaseRepository

    @classmethod
    def over(cls, db: FleetDb) -> Repositories:
        return cls(
            LanderRepository(db),
            ComponentRepository(db),
            ProgramRepository(db),
            DefectRepository(db),
            PackageRepository(db),
            ReleaseRepository(db),
        )
