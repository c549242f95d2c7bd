"""The fleet's own signed records in the record store: a release to service and a defect
rectification are each a card run the fleet writes, finishes and has signed.

``FleetRecords.may_sign`` checks the signer (both factors, role and authorization) before any
record is written, outside any transaction, so a wrong secret is logged and counted towards
lockout even when the action is then refused. ``FleetRecords.write_signed`` writes the run,
its one event, its end and the signature inside a fleet transaction: called from the service's
own transaction (the one that checks and writes the fleet rows), the record commits with those
rows or not at all.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from hil.fleet.db import FleetDb
from hil.fleet.model import utc_date
from hil.records.errors import SignoffRefused
from hil.records.signoff import ROLES_FOR, sign
from hil.records.state import Meaning
from hil.records.store import Event, RecordStore


class FleetRecords:
    """Writes the fleet's signed card runs to ``store`` (whose database ``db`` is on)."""

    def __init__(self, store: RecordStore, db: FleetDb, now: Callable[[], datetime]) -> None:
        self.store = store
        self.db = db
        self.now = now

    def may_sign(self, person_id: str, secret: str, meaning: str, card: str, purpose: str) -> None:
        """Authenticate ``person_id`` and check the role and authorization ``meaning`` on
        ``card`` need, before any record is written. Raises ``AuthenticationError`` or
        ``SignoffRefused`` (naming the person and what is missing)."""
        people = self.store.people
        people.authenticate(person_id, secret, purpose)
        person = people.get(person_id)
        allowed = ROLES_FOR[meaning]
        who = f"{person.printed_name} ({person.person_id})"
        if not any(role in person.roles for role in allowed):
            need = " or ".join(r.value for r in allowed)
            raise SignoffRefused(f"{who} may not {purpose}: needs role {need}")
        now = self.now()
        if person.authorization_for(card, now) is None:
            raise SignoffRefused(
                f"{who} has no authorization for {card} ({purpose}) valid on "
                f"{utc_date(now).isoformat()}"
            )

    def write_signed(
        self,
        *,
        card: str,
        title: str,
        lander: str,
        kind: str,
        event: str,
        payload: Mapping[str, Any],
        outcome: str,
        person_id: str,
        secret: str,
        meaning: Meaning,
    ) -> Event:
        """A run of ``card`` on ``lander`` (``kind`` in its start) holding one ``event`` with
        ``payload``, finished ``outcome`` and signed ``meaning`` by ``person_id``: all in one
        transaction (the caller's, if open). Returns the signature event (its ``run_id`` is
        the record's). Raises what ``hil.records.sign`` raises; then nothing is written."""
        with self.db.transaction(f"write {card} record"):
            run_id = self.store.create_run(
                {
                    "card": {"number": card, "revision": "1", "title": title},
                    "lander": lander,
                    "operator_id": person_id,
                    "kind": kind,
                }
            )
            self.store.append(run_id, event, payload)
            self.store.finish(run_id, outcome)
            return sign(self.store, run_id, person_id, secret, meaning)
