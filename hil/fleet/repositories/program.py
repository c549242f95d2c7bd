"""The maintenance program table family: ``fleet_tasks`` (the program's tasks by card
number), ``fleet_settings`` (the program's label and DUE SOON fraction) and
``fleet_due_items`` (when each task was last done on each lander, and the counters then).

SQL only: which card runs complete a due item is decided in ``hil.fleet.maintenance``. Writes
run in the caller's transaction (``FleetDb.transaction``).
"""

from __future__ import annotations

import json

from hil.fleet.db import FleetDb
from hil.fleet.model import Counters, LastDone, Task


class ProgramRepository:
    """Program tasks, fleet settings and due-item completions, in ``db``."""

    def __init__(self, db: FleetDb) -> None:
        self.db = db

    # -- fleet_tasks -------------------------------------------------------------------------

    def put_task(self, task: Task, program: str, stamp: str) -> None:
        """Add a task, or replace the task with the same card number."""
        self.db.execute(
            "INSERT INTO fleet_tasks (card_number, title, models, configurations, threshold, "
            "repeat, program, updated_utc) VALUES (?,?,?,?,?,?,?,?) "
            "ON CONFLICT (card_number) DO UPDATE SET title = excluded.title, "
            "models = excluded.models, configurations = excluded.configurations, "
            "threshold = excluded.threshold, repeat = excluded.repeat, "
            "program = excluded.program, updated_utc = excluded.updated_utc",
            (*task.to_row(), program, stamp),
        )

    def tasks(self) -> list[Task]:
        rows = self.db.query(
            "SELECT card_number, title, models, configurations, threshold, repeat "
            "FROM fleet_tasks ORDER BY card_number"
        )
        return [
            Task(
                card,
                title,
                tuple(json.loads(models)),
                tuple(json.loads(configs)),
                json.loads(threshold),
                json.loads(repeat),
            )
            for card, title, models, configs, threshold, repeat in rows
        ]

    # -- fleet_settings ----------------------------------------------------------------------

    def set_setting(self, name: str, value: str) -> None:
        self.db.execute(
            "INSERT INTO fleet_settings (name, value) VALUES (?, ?) "
            "ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            (name, value),
        )

    def setting(self, name: str, default: str) -> str:
        rows = self.db.query("SELECT value FROM fleet_settings WHERE name = ?", (name,))
        return str(rows[0][0]) if rows else default

    # -- fleet_due_items ---------------------------------------------------------------------

    def last_done(self, lander: str) -> dict[str, LastDone]:
        """The last completion of each card done on ``lander``, by card number."""
        rows = self.db.query(
            "SELECT card_number, last_done_utc, last_run_id, last_descents, last_engine_starts, "
            "last_burn_s, last_powered_h FROM fleet_due_items WHERE lander = ? "
            "AND last_done_utc IS NOT NULL",
            (lander,),
        )
        return {
            card: LastDone(utc, run_id, Counters(d, e, b, p))
            for card, utc, run_id, d, e, b, p in rows
        }

    def record_completion(self, lander: str, card: str, done: LastDone, stamp: str) -> bool:
        """Record ``done`` as the card's last completion on ``lander`` unless a completion as
        late or later is recorded; False (nothing written) then.

        One statement, so two benches recording at once never clash: the second finds the
        row and updates it only with a later completion.
        """
        changed = self.db.execute(
            "INSERT INTO fleet_due_items (lander, card_number, created_utc, "
            "last_done_utc, last_run_id, last_descents, last_engine_starts, "
            "last_burn_s, last_powered_h) VALUES (?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (lander, card_number) DO UPDATE SET "
            "last_done_utc = excluded.last_done_utc, last_run_id = excluded.last_run_id, "
            "last_descents = excluded.last_descents, "
            "last_engine_starts = excluded.last_engine_starts, "
            "last_burn_s = excluded.last_burn_s, last_powered_h = excluded.last_powered_h "
            "WHERE fleet_due_items.last_done_utc IS NULL "
            "OR fleet_due_items.last_done_utc < excluded.last_done_utc",
            (lander, card, stamp, done.utc, done.run_id, *done.counters.as_tuple()),
        )
        return changed == 1
