"""Verification of a run's record: the hash chain, every signature, attachments, sign-off rules.

``verify`` recomputes every event hash from the stored fields, checks that sequence numbers are
consecutive from 1, that each event chains to the one before, that the run's stored head matches
the last event (a deleted tail), that no event follows the run's end but sign-off (a second
``run_finished`` appended behind the store's back), that each signed event's Ed25519 signature
verifies over this run id and the record state it covers, with the signer's registered key,
that stored attachments still have their hash, and that the run index row (card, lander,
operator, status, outcome: what lists and the fleet act on) says what the events say
(``hil.records.runindex``). It stops at the first thing that fails and names it; a report that
is ``ok`` carries ``facts``, the run's index derived from its verified events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hil.records.canonical import GENESIS_HASH, event_hash, file_sha256
from hil.records.people import PeopleStore, key_id_of, verify_signature
from hil.records.runindex import derive_run_info, index_mismatch, lifecycle_problem
from hil.records.signoff import signing_message
from hil.records.state import Meaning, RunState
from hil.records.store import Event, RecordStore, RunInfo

SIGNED_KINDS = frozenset({"signature", "correction", "redline"})
"""Event kinds that must carry a valid signature by a registered person."""


@dataclass(frozen=True)
class VerifyReport:
    """``ok``, or the first event that fails (its seq) and why, in one line."""

    run_id: str
    ok: bool
    events: int
    signatures: int
    first_bad_event: int | None = None
    reason: str = ""
    index_field: str = ""
    """The run index field the events contradict ("" when the fault is not in the index)."""
    facts: RunInfo | None = field(default=None, compare=False, repr=False)
    """When ``ok``: the run as its verified events say it (card, lander, operator, outcome,
    end). Act on these, never on the stored index row."""

    def describe(self) -> str:
        if self.ok:
            return f"run {self.run_id}: OK ({self.events} events, {self.signatures} signatures)"
        return f"run {self.run_id}: FAILED at event {self.first_bad_event}: {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k != "facts"}
        data["facts"] = self.facts.to_dict() if self.facts is not None else None
        return data


def verify(store: RecordStore, run_id: str, *, check_attachments: bool = True) -> VerifyReport:
    """Verify one run's record. Raises ``UnknownRecord`` for an unknown run, ``StorageError``."""
    info = store.run(run_id)
    run_id = info.run_id
    events = store.events(run_id)
    people = store.people
    hashes: dict[int, str] = {}
    signatures = 0

    def bad(seq: int, reason: str, index_field: str = "") -> VerifyReport:
        return VerifyReport(run_id, False, len(events), signatures, seq, reason, index_field)

    prev = GENESIS_HASH
    expected = 1
    for event in events:
        if event.seq != expected:
            if event.seq > expected:
                return bad(
                    expected,
                    f"missing (event {event.seq} follows event {expected - 1}: deleted?)",
                )
            return bad(event.seq, f"out of order (after event {expected - 1})")
        if event.run_id != run_id:
            return bad(event.seq, f"belongs to run {event.run_id}")
        digest = event_hash(
            run_id, event.seq, event.kind, event.utc, event.prev_hash, event.payload_json
        )
        if digest != event.hash:
            return bad(event.seq, f"'{event.kind}' content does not match its hash (edited?)")
        if event.prev_hash != prev:
            return bad(
                event.seq,
                f"'{event.kind}' does not chain to event {event.seq - 1} "
                "(events reordered, or an earlier event replaced)",
            )
        if event.seq == 1 and event.kind != "run_started":
            return bad(1, f"first event is '{event.kind}', not 'run_started'")
        if event.kind in SIGNED_KINDS:
            signatures += event.kind == "signature"
            problem = _check_signature(run_id, event, hashes, people)
            if problem:
                return bad(event.seq, problem)
        if event.kind == "attachment" and check_attachments:
            problem = _check_attachment(store, event)
            if problem:
                return bad(event.seq, problem)
        hashes[event.seq] = event.hash
        prev = event.hash
        expected += 1
    if info.event_count != len(events) or info.head_hash != prev:
        return bad(
            len(events) + 1,
            f"missing: the run's head is event {info.event_count} but the record ends at "
            f"event {len(events)} (deleted?)",
        )
    if not events:
        return bad(1, "missing: the run has no events (run_started deleted?)")
    lifecycle = lifecycle_problem(events)
    if lifecycle is not None:
        return bad(*lifecycle)
    mismatch = index_mismatch(info, events)
    if mismatch is not None:
        return bad(mismatch.seq, mismatch.describe(), mismatch.field)
    if signatures:
        problem_seq, problem = _check_rules(run_id, events)
        if problem:
            return bad(problem_seq, problem)
    return VerifyReport(
        run_id, True, len(events), signatures, facts=derive_run_info(run_id, events)
    )


def _check_signature(run_id: str, event: Event, hashes: dict[int, str], people: PeopleStore) -> str:
    try:
        payload = event.payload
    except ValueError:
        return f"'{event.kind}' payload is not JSON"
    who = f"{payload.get('printed_name')} ({payload.get('person_id')})"
    covers_seq = payload.get("covers_seq")
    if not isinstance(covers_seq, int) or hashes.get(covers_seq) != payload.get("covers_hash"):
        return (
            f"signature by {who} covers a record state that is not this run's event "
            f"{covers_seq} (moved from another record?)"
        )
    public_key = str(payload.get("public_key", ""))
    try:
        key_id = key_id_of(public_key)
    except ValueError:
        return f"signature by {who}: public key is not hex"
    if key_id != payload.get("key_id"):
        return f"signature by {who}: key id does not match its public key"
    found = people._get(str(payload.get("person_id")))
    if found is None:
        return f"signature by {who}: signer is not in the people registry"
    person = found[0]
    if person.public_key != public_key:
        return f"signature by {who}: key {key_id} is not the signer's registered key"
    if person.revoked_utc and str(payload.get("signed_utc", "")) > person.revoked_utc:
        return f"signature by {who}: signed after the person was revoked"
    if not verify_signature(
        public_key, str(payload.get("signature", "")), signing_message(run_id, payload)
    ):
        return f"signature by {who} does not verify (signed content changed or moved)"
    return ""


def _check_attachment(store: RecordStore, event: Event) -> str:
    payload = event.payload
    digest = str(payload.get("sha256", ""))
    path = store.attachment_path(digest)
    if path is None:
        return f"attachment {payload.get('name')} ({digest[:12]}) is missing from the store"
    try:
        actual = file_sha256(str(path))
    except OSError as err:
        return f"attachment {payload.get('name')}: cannot read ({err.strerror})"
    if actual != digest:
        return f"attachment {payload.get('name')} changed (hash {actual[:12]}, not {digest[:12]})"
    return ""


def _check_rules(run_id: str, events: list[Event]) -> tuple[int, str]:
    """Sign-off rules a bypassed ``sign`` could have broken: RII inspector independence."""
    state = RunState.from_events(run_id, events)
    for signature in state.signatures:
        if signature.meaning != Meaning.INSPECTED:
            continue
        for step in signature.steps or tuple(state.steps):
            if signature.person_id in state.performers(step):
                return signature.seq, (
                    f"inspector {signature.printed_name} ({signature.person_id}) also "
                    f"performed step {step}"
                )
    return 0, ""
