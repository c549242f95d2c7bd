"""Verification of a run's record: the hash chain, every signature, attachments, sign-off rules.

``verify`` recomputes every event hash from the stored fields, checks that sequence numbers are
consecutive from 1, that each event chains to the one before, that the run's stored head matches
the last event (a deleted tail), that no event follows the run's end but sign-off (a second
``run_finished`` appended behind the store's back), that each signed event's Ed25519 signature
verifies over this run id and the record state it covers, with the key, a role and an
authorization the people registry gave the signer (the registry chain replayed against the
trust file, never the ``people`` table), that stored attachments still have their hash, that
the run index row (card, lander, operator, status, outcome: what lists and the fleet act on)
says what the events say (``hil.records.runindex``), and that the run still holds what the
newest trusted checkpoint saw of it (``hil.records.checkpoint``). It stops at the first thing
that fails and names it; a report that is ``ok`` carries ``facts``, the run's index derived
from its verified events. ``hil.records.audit`` verifies the whole store.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase
from typing import Any

from hil.records.canonical import GENESIS_HASH, event_hash, file_sha256
from hil.records.checkpoint import Completeness, completeness
from hil.records.identity import key_id_of, verify_signature
from hil.records.registry import RegistryState
from hil.records.runindex import derive_run_info, index_mismatch, lifecycle_problem
from hil.records.signoff import ROLES_FOR, signing_message
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


@dataclass(frozen=True)
class VerifyContext:
    """What verify checks runs against: the registry replayed, the newest trusted checkpoint."""

    registry: RegistryState
    completeness: Completeness

    @classmethod
    def of(cls, store: RecordStore) -> VerifyContext:
        registry = store.people.registry(fresh=True)
        return cls(registry, completeness(store.trust, registry))


def verify(
    store: RecordStore,
    run_id: str,
    *,
    check_attachments: bool = True,
    context: VerifyContext | None = None,
) -> VerifyReport:
    """Verify one run's record. Raises ``UnknownRecord`` for an unknown run, ``StorageError``.
    ``context`` (``VerifyContext.of(store)``) saves reading the registry and the witnesses again
    when verifying many runs."""
    info = store.run(run_id)
    run_id = info.run_id
    events = store.events(run_id)
    context = context or VerifyContext.of(store)
    registry = context.registry
    card_number = RunState.from_events(run_id, events[:1]).card_number
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
            problem = _check_signature(run_id, event, hashes, registry, card_number)
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
    problem_seq, problem = context.completeness.run_problem(run_id, events)
    if problem:
        return bad(problem_seq, problem)
    return VerifyReport(
        run_id, True, len(events), signatures, facts=derive_run_info(run_id, events)
    )


def _check_signature(
    run_id: str, event: Event, hashes: dict[int, str], registry: RegistryState, card_number: str
) -> str:
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
    person = registry.people.get(str(payload.get("person_id")))
    if person is None:
        if not registry.trust.configured:
            why = "no trust file names an administrator (set $HIL_TRUST)"
        else:
            why = registry.describe_problem() or f"trust file {registry.trust.path}"
        return f"signature by {who}: signer is not in the people registry ({why})"
    if person.public_key != public_key:
        return f"signature by {who}: key {key_id} is not the signer's registered key"
    signed_utc = str(payload.get("signed_utc", ""))
    if person.revoked_utc and signed_utc > person.revoked_utc:
        return f"signature by {who}: signed after the person was revoked"
    if not verify_signature(
        public_key, str(payload.get("signature", "")), signing_message(run_id, payload)
    ):
        return f"signature by {who} does not verify (signed content changed or moved)"
    problem = _check_entitlement(event, payload, person.roles, person.authorizations, card_number)
    if problem:
        return f"signature by {who}: {problem}"
    return ""


def _check_entitlement(
    event: Event,
    payload: dict[str, Any],
    roles: tuple[Any, ...],
    authorizations: tuple[Any, ...],
    card_number: str,
) -> str:
    """The role and authorization the signature names are ones the registry gave the signer."""
    meaning = str(payload.get("meaning", ""))
    if event.kind == "redline" and payload.get("major"):
        meaning = "redlined-major"
    role = str(payload.get("role", ""))
    allowed = [r.value for r in ROLES_FOR.get(meaning, ())]
    if role not in allowed or role not in [r.value for r in roles]:
        return f"role {role!r} is not one the registry gave them for '{meaning}'"
    try:
        signed_on = date.fromisoformat(str(payload.get("signed_utc", ""))[:10])
    except ValueError:
        return "signing time is not a date"
    certificate = payload.get("certificate")
    if not any(
        a.certificate == certificate
        and fnmatchcase(card_number, a.scope)
        and signed_on <= a.expires
        for a in authorizations
    ):
        return (
            f"authorization {certificate!r} is not one the registry gave them for card "
            f"{card_number or '?'} on {signed_on.isoformat()}"
        )
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
