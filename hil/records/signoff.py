"""Sign-off: signatures with a meaning, and signed corrections and redlines.

Rules enforced here:

* two factors: the person id and their secret (``PeopleStore.authenticate``); a wrong secret is
  refused, logged in the authentication log and recorded in the run as ``auth_failed``;
* the signer holds a role that may give the meaning (``ROLES_FOR``) and an authorization whose
  scope matches the card number and has not expired at the moment of signing;
* a signature comes only after what it covers is complete: each covered step has a finished
  attempt; a signature on the whole card needs the run finished;
* an inspection counter-signs: each covered step already has a ``performed`` signature, and the
  inspector performed none of the covered steps (neither ran the card nor signed them performed);
* approval is on the whole card and needs every RII step inspected;
* one person gives one meaning once per scope: the same person signing the same meaning again
  on the whole card, or on a step they already signed with it, is refused;
* every signature covers the hash of the record up to the event before it (``covers_seq``,
  ``covers_hash``) and the run id; the Ed25519 signature is over ``signing_message``;
* a correction or redline needs a reason; it supersedes without erasing (the original event stays);
* after each one, a checkpoint of the whole store signed by the signer goes to the witnesses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from hil.core.timestamps import utc_now
from hil.records.canonical import canonical_bytes
from hil.records.errors import AuthenticationError, SignoffRefused
from hil.records.people import Authorization, Person, Role
from hil.records.state import Meaning, RunState
from hil.records.store import Event, RecordStore

SIGNING_DOMAIN = b"hil.records.signature/1\n"

ROLES_FOR: dict[str, tuple[Role, ...]] = {
    Meaning.PERFORMED: (Role.TECHNICIAN, Role.ENGINEER),
    Meaning.INSPECTED: (Role.INSPECTOR,),
    Meaning.APPROVED: (Role.ENGINEER, Role.INSPECTOR),
    "corrected": (Role.TECHNICIAN, Role.ENGINEER, Role.INSPECTOR),
    "redlined": (Role.TECHNICIAN, Role.ENGINEER, Role.INSPECTOR),
    "redlined-major": (Role.ENGINEER,),
}
"""Roles allowed to sign with each meaning (a major redline needs an engineer)."""


def signing_message(run_id: str, payload: Mapping[str, Any]) -> bytes:
    """The bytes an Ed25519 signature is made over: the run id and the signed payload without
    its ``signature`` and ``public_key`` fields, as canonical JSON."""
    body = {k: v for k, v in payload.items() if k not in ("signature", "public_key")}
    return SIGNING_DOMAIN + canonical_bytes({"run_id": run_id, "signed": body})


def sign(
    store: RecordStore,
    run_id: str,
    person_id: str,
    secret: str,
    meaning: Meaning | str,
    covers: Sequence[int] | None = None,
) -> Event:
    """Append a ``signature`` event by ``person_id`` with ``meaning`` over ``covers`` (step
    numbers; None or empty for the whole card). Returns the event.

    Raises ``AuthenticationError`` (wrong secret, locked, revoked), ``SignoffRefused`` (a rule
    above), ``UnknownRecord`` (no such run or person), ``StorageError``.
    """
    try:
        meaning = Meaning(meaning)
    except ValueError:
        known = ", ".join(m.value for m in Meaning)
        raise SignoffRefused(f"signature meaning {meaning!r}: use one of {known}") from None
    run_id = store.run(run_id).run_id
    steps = tuple(sorted(set(covers or ())))
    purpose = f"sign {meaning.value} run {run_id}"
    key, person = _authenticate(store, run_id, person_id, secret, purpose)
    state = RunState.from_events(run_id, store.events(run_id))
    who = f"{person.printed_name} ({person.person_id})"
    role, authorization = _entitled(person, meaning.value, state.card_number)
    if steps:
        unknown = [s for s in steps if s not in state.attempts]
        if unknown:
            raise SignoffRefused(f"run {run_id}: no step {unknown[0]} in this record")
        pending = [s for s in steps if not state.complete(s)]
        if pending:
            raise SignoffRefused(
                f"run {run_id}: step {pending[0]} is not complete; sign it after it has run"
            )
    elif state.finished is None:
        status = "interrupted" if state.interrupted else "still running"
        raise SignoffRefused(
            f"run {run_id} is {status}: a signature on the whole card needs a finished run "
            "(sign completed steps by number instead)"
        )
    covered = list(steps) or state.steps
    twice = duplicate_signature(state, person.person_id, meaning, steps)
    if twice:
        raise SignoffRefused(f"run {run_id}: {who} {twice}")
    if meaning == Meaning.INSPECTED:
        for step in covered:
            if person.person_id in state.performers(step):
                raise SignoffRefused(
                    f"run {run_id}: {who} performed step {step}; its inspector must be "
                    "someone who performed none of the covered steps"
                )
            if not state.signed(step, Meaning.PERFORMED):
                raise SignoffRefused(
                    f"run {run_id}: step {step} has no 'performed' signature to counter-sign"
                )
    if meaning == Meaning.APPROVED:
        if steps:
            raise SignoffRefused(f"run {run_id}: approval is given on the whole card, not steps")
        outstanding = state.outstanding_rii()
        if outstanding:
            raise SignoffRefused(
                f"run {run_id}: RII step {outstanding[0]} has no inspector signature yet"
            )
    body = {
        "meaning": meaning.value,
        "steps": list(steps),
    }
    return _append_signed(store, run_id, "signature", body, person, key, role, authorization)


def duplicate_signature(
    state: RunState, person_id: str, meaning: Meaning, steps: Sequence[int]
) -> str:
    """Why ``person_id`` may not sign ``meaning`` over ``steps`` (empty: the whole card) again
    on this run ("" when they may): they already did on the whole card, or on a step of
    ``steps``. A whole-card signature after step signatures is a new scope, and allowed."""
    for earlier in state.signatures:
        if earlier.person_id != person_id or earlier.meaning != meaning.value:
            continue
        if earlier.on_card and not steps:
            return f"already signed '{meaning.value}' on the whole card (event {earlier.seq})"
        again = sorted(set(steps) & set(earlier.steps)) if earlier.steps else sorted(steps)
        if steps and again:
            return f"already signed '{meaning.value}' on step {again[0]} (event {earlier.seq})"
    return ""


def correct(
    store: RecordStore,
    run_id: str,
    person_id: str,
    secret: str,
    supersedes_seq: int,
    reason: str,
    changes: Mapping[str, Any],
) -> Event:
    """Append a signed ``correction`` that supersedes fields of event ``supersedes_seq`` with
    ``changes`` (the original stays in the record). Raises ``SignoffRefused`` without a reason
    or for an event that cannot be corrected."""
    if not reason.strip():
        raise SignoffRefused(f"run {run_id}: a correction needs a reason")
    run_id = store.run(run_id).run_id
    events = store.events(run_id)
    target = next((e for e in events if e.seq == supersedes_seq), None)
    if target is None or target.kind not in ("attempt", "teardown", "correction", "redline"):
        raise SignoffRefused(
            f"run {run_id}: event {supersedes_seq} is not a step attempt, teardown, correction "
            "or redline"
        )
    if not changes:
        raise SignoffRefused(f"run {run_id}: a correction must change something")
    key, person = _authenticate(store, run_id, person_id, secret, f"correct run {run_id}")
    state = RunState.from_events(run_id, events)
    role, authorization = _entitled(person, "corrected", state.card_number)
    body = {
        "meaning": "corrected",
        "supersedes_seq": supersedes_seq,
        "supersedes_hash": target.hash,
        "reason": reason.strip(),
        "changes": dict(changes),
    }
    return _append_signed(store, run_id, "correction", body, person, key, role, authorization)


def redline(
    store: RecordStore,
    run_id: str,
    person_id: str,
    secret: str,
    step: int,
    reason: str,
    change: str,
    *,
    major: bool = False,
) -> Event:
    """Append a signed ``redline`` (a deviation from the card at ``step``). Needs a reason; a
    major one (changes limits or a safety step) needs an engineer."""
    if not reason.strip():
        raise SignoffRefused(f"run {run_id}: a redline needs a reason")
    if not change.strip():
        raise SignoffRefused(f"run {run_id}: a redline must say what changes")
    run_id = store.run(run_id).run_id
    key, person = _authenticate(store, run_id, person_id, secret, f"redline run {run_id}")
    state = RunState.from_events(run_id, store.events(run_id))
    role, authorization = _entitled(
        person, "redlined-major" if major else "redlined", state.card_number
    )
    body = {
        "meaning": "redlined",
        "step": step,
        "reason": reason.strip(),
        "change": change.strip(),
        "major": major,
    }
    return _append_signed(store, run_id, "redline", body, person, key, role, authorization)


def _authenticate(
    store: RecordStore, run_id: str, person_id: str, secret: str, purpose: str
) -> tuple[Any, Person]:
    people = store.people
    try:
        key = people.authenticate(person_id, secret, purpose)
    except AuthenticationError as err:
        store.append(run_id, "auth_failed", {"person_id": person_id, "detail": str(err)})
        raise
    return key, people.get(person_id)


def _entitled(person: Person, meaning: str, card_number: str) -> tuple[Role, Authorization]:
    allowed = ROLES_FOR[meaning]
    role = next((r for r in allowed if r in person.roles), None)
    who = f"{person.printed_name} ({person.person_id})"
    if role is None:
        need = " or ".join(r.value for r in allowed)
        raise SignoffRefused(f"{who} may not sign '{meaning}': needs role {need}")
    now = datetime.now(UTC)
    authorization = person.authorization_for(card_number, now)
    if authorization is None:
        raise SignoffRefused(
            f"{who} has no authorization for card {card_number or '?'} valid on "
            f"{now.date().isoformat()}"
        )
    return role, authorization


def _append_signed(
    store: RecordStore,
    run_id: str,
    kind: str,
    body: dict[str, Any],
    person: Person,
    key: Any,
    role: Role,
    authorization: Authorization,
) -> Event:
    head = store.head(run_id)
    if head is None:  # pragma: no cover - create_run always writes run_started
        raise SignoffRefused(f"run {run_id}: empty record")
    payload: dict[str, Any] = {
        **body,
        "person_id": person.person_id,
        "printed_name": person.printed_name,
        "role": role.value,
        "certificate": authorization.certificate,
        "authorization_expires": authorization.expires.isoformat(),
        "signed_utc": utc_now(),
        "covers_seq": head.seq,
        "covers_hash": head.hash,
        "key_id": person.key_id,
        "public_key": person.public_key,
    }
    payload["signature"] = key.sign(signing_message(run_id, payload)).hex()
    event = store.append(run_id, kind, payload)
    store.checkpoint(f"{kind} {body['meaning']} on run {run_id}", signer=(person.person_id, key))
    return event
