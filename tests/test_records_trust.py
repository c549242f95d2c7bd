"""The records against someone with write access to the database but no signer's or
administrator's secret: every attack here is plain SQL on the SQLite file, and ``verify`` (or
the sign-off itself) names it. What verify trusts comes from outside the database: the test's
trust file (administrator and bench keys) and the witness folder it names."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from records_people import ADMIN_ID, ADMIN_SECRET, administer

from hil.records import (
    Administrator,
    AuthenticationError,
    Authorization,
    Kdf,
    RecordError,
    SqliteStore,
    Trust,
    bootstrap_admin,
    event_hash,
    sign,
    verify,
    verify_store,
)
from hil.records.identity import new_key_material, public_key_of, unlock_key
from hil.records.registry import REGISTRY_CHAIN, admin_message
from hil.records.signoff import signing_message
from hil.records.sqlite import DB_NAME

CARD = "LL-34-21-00-720-801"
VALID = Authorization("LL-34-*", "CERT-1", date.today() + timedelta(days=365))
SECRETS = {"tech": "tech-secret", "insp": "insp-secret", "eng": "eng-secret"}


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def store(data: Path) -> Iterator[SqliteStore]:
    with SqliteStore(data, kdf=Kdf(n=2**10)) as opened:
        admin = administer(opened)
        admin.add("tech", "Jane Tech", ["technician"], SECRETS["tech"], [VALID])
        admin.add("insp", "Ian Spector", ["inspector"], SECRETS["insp"], [VALID])
        admin.add("eng", "Eve Engineer", ["engineer"], SECRETS["eng"], [VALID])
        yield opened


def sql(data: Path, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    """The adversary: plain SQL on the file, append-only triggers dropped first."""
    with contextlib.closing(sqlite3.connect(data / DB_NAME)) as db, db:
        for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            db.execute(f"DROP TRIGGER {name}")
        return db.execute(statement, args).fetchall()


def new_run(store: SqliteStore) -> str:
    run_id = store.create_run(
        {"card": {"number": CARD, "revision": "B"}, "lander": "HR-2", "operator_id": "tech"}
    )
    for step in (1, 2):
        store.append(
            run_id,
            "attempt",
            {
                "step": step,
                "attempt": 1,
                "rii": step == 2,
                "finished_utc": "2025-06-05T10:00:01.000+00:00",
                "outcome": "PASS",
            },
        )
    store.finish(run_id, "PASS")
    return run_id


def forge_signature(
    store: SqliteStore, run_id: str, person_id: str, name: str, key: Any, meaning: str, **extra: Any
) -> None:
    """Append a signature event made with ``key`` in ``person_id``'s name (what someone with
    a key and write access could insert)."""
    head = store.head(run_id)
    assert head is not None
    payload: dict[str, Any] = {
        "meaning": meaning,
        "steps": extra.pop("steps", []),
        "person_id": person_id,
        "printed_name": name,
        "role": extra.pop("role", "technician"),
        "certificate": "CERT-1",
        "authorization_expires": VALID.expires.isoformat(),
        "signed_utc": head.utc,
        "covers_seq": head.seq,
        "covers_hash": head.hash,
        "key_id": "",
        "public_key": public_key_of(key),
    }
    from hil.records.identity import key_id_of

    payload["key_id"] = key_id_of(payload["public_key"])
    payload["signature"] = key.sign(signing_message(run_id, payload)).hex()
    store.append(run_id, "signature", payload)


def rechain(data: Path, table: str, chain: str, start_seq: int) -> None:
    """Recompute the hashes of ``table``'s events from ``start_seq`` on (one run or the
    registry), as an adversary covering an edit would; the run's head pointer follows."""
    where = "" if table == "registry" else " AND run_id = ?"
    args: tuple[Any, ...] = () if table == "registry" else (chain,)
    rows = sql(data, f"SELECT seq, kind, utc, payload, prev_hash FROM {table} WHERE 1=1{where} "
               "ORDER BY seq", *args)  # fmt: skip
    prev = None
    for seq, kind, utc, payload, prev_hash in rows:
        if seq < start_seq:
            prev = sql(data, f"SELECT hash FROM {table} WHERE seq = ?{where}", seq, *args)[0][0]
            continue
        prev = prev_hash if prev is None else prev
        digest = event_hash(chain, seq, kind, utc, prev, payload)
        sql(data, f"UPDATE {table} SET prev_hash = ?, hash = ? WHERE seq = ?{where}",
            prev, digest, seq, *args)  # fmt: skip
        prev = digest
    if table == "events":
        sql(data, "UPDATE runs SET head_seq = ?, head_hash = ? WHERE run_id = ?",
            rows[-1][0], prev, chain)  # fmt: skip


# -- the people registry ----------------------------------------------------------------------


def test_changing_people_needs_an_administrator(store: SqliteStore) -> None:
    with pytest.raises(AuthenticationError, match="not an administrator"):
        Administrator.login(store, "tech", SECRETS["tech"])
    with pytest.raises(AuthenticationError, match="wrong secret"):
        Administrator.login(store, ADMIN_ID, "not-the-secret")
    with pytest.raises(RecordError, match="registry is not empty"):
        bootstrap_admin(store, "mallory", "Mallory", "mallory-secret")
    assert not hasattr(store.people, "add") and not hasattr(store.people, "unlock")


def test_bootstrap_writes_the_admin_key_bench_key_and_witness_into_the_trust_file(
    store: SqliteStore, private_trust_file: Path
) -> None:
    trust = Trust.load(private_trust_file)
    admin = store.people.get(ADMIN_ID)
    assert [key.public_key for key in trust.admins] == [admin.public_key]
    assert trust.bench_key is not None and trust.bench_key.stat().st_mode & 0o077 == 0
    assert len(trust.benches) == 1 and trust.witnesses
    new_run(store)  # a run end: a checkpoint signed by the bench key
    files = sorted(trust.witnesses[0].glob("*/checkpoint-*.json"))
    newest = json.loads(files[-1].read_text())
    assert newest["signer"]["kind"] == "bench" and newest["reason"].endswith("finished PASS")
    report = verify_store(store)
    assert report.ok, report.lines()
    assert report.checkpoint.startswith(f"checkpoint {newest['seq']} ")


def test_swapped_signing_keys_are_refused_and_named(store: SqliteStore, data: Path) -> None:
    run_id = new_run(store)
    columns = "public_key, key_id, kdf, secret_salt, secret_hash, key_salt, key_nonce"
    tech = sql(data, f"SELECT {columns}, key_ciphertext FROM people WHERE person_id = 'tech'")[0]
    insp = sql(data, f"SELECT {columns}, key_ciphertext FROM people WHERE person_id = 'insp'")[0]
    sets = ", ".join(f"{c.strip()} = ?" for c in (columns + ", key_ciphertext").split(","))
    sql(data, f"UPDATE people SET {sets} WHERE person_id = 'tech'", *insp)
    sql(data, f"UPDATE people SET {sets} WHERE person_id = 'insp'", *tech)
    # Ian's secret now opens the key stored under Jane's id: signing refuses it...
    with pytest.raises(AuthenticationError, match="signing key"):
        sign(store, run_id, "tech", SECRETS["insp"], "performed")
    # ...and a signature made with Ian's key in Jane's name is named by verify.
    key = _key_of("insp", SECRETS["insp"], insp)
    forge_signature(store, run_id, "tech", "Jane Tech", key, "performed")
    report = verify(store, run_id)
    assert not report.ok and "is not the signer's registered key" in report.reason


def _key_of(person_id: str, secret: str, row: tuple[Any, ...]) -> Any:
    from hil.records.identity import Kdf as KdfType
    from hil.records.identity import SecretRecord

    kdf, s_salt, s_hash, k_salt, k_nonce, k_ct = row[2:]
    record = SecretRecord(KdfType(**json.loads(kdf)), s_salt, s_hash, k_salt, k_nonce, k_ct)
    return unlock_key(person_id, secret, record)


def test_a_self_made_inspector_is_neither_signer_nor_registered(
    store: SqliteStore, data: Path
) -> None:
    run_id = new_run(store)
    sign(store, run_id, "tech", SECRETS["tech"], "performed")
    public, record = new_key_material("mallory", "mallory-secret", Kdf(n=2**10))
    sql(
        data,
        "INSERT INTO people VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        "mallory", "M. Allory", '["inspector"]', json.dumps([VALID.to_dict()]), public,
        public[:16], "active", "2025-01-01", None, None, 0, json.dumps(vars(record.kdf)),
        record.secret_salt, record.secret_hash, record.key_salt, record.key_nonce,
        record.key_ciphertext,
    )  # fmt: skip
    with pytest.raises(AuthenticationError, match="not registered"):
        sign(store, run_id, "mallory", "mallory-secret", "inspected", [2])
    key = unlock_key("mallory", "mallory-secret", record)
    forge_signature(store, run_id, "mallory", "M. Allory", key, "inspected", role="inspector",
                    steps=[2])  # fmt: skip
    report = verify(store, run_id)
    assert not report.ok and "mallory" in report.reason
    assert "signer is not in the people registry" in report.reason


def test_a_registry_event_not_signed_by_an_administrator_is_named(
    store: SqliteStore, data: Path
) -> None:
    public, record = new_key_material("mallory", "mallory-secret", Kdf(n=2**10))
    key = unlock_key("mallory", "mallory-secret", record)
    seq, prev = store.people.stored_head()
    payload = {
        "person_id": "mallory",
        "printed_name": "M. Allory",
        "roles": ["inspector", "admin"],
        "authorizations": [VALID.to_dict()],
        "public_key": public,
        "admin_id": "mallory",
        "admin_public_key": public,
    }
    payload["signature"] = key.sign(admin_message(seq + 1, prev, "person_added", payload)).hex()
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    utc = "2030-01-01T00:00:00.000+00:00"
    digest = event_hash(REGISTRY_CHAIN, seq + 1, "person_added", utc, prev, text)
    sql(data, "INSERT INTO registry VALUES (?,?,?,?,?,?)", seq + 1, "person_added", utc, text,
        prev, digest)  # fmt: skip
    report = verify_store(store)
    assert not report.ok
    assert any(
        f"people registry event {seq + 1}: 'person_added' signed by 'mallory' with a key that "
        "is no administrator's" in line
        for line in report.lines()
    )
    run_id = new_run(store)
    with pytest.raises(RecordError, match=f"registry event {seq + 1}: .* refusing to authent"):
        sign(store, run_id, "mallory", "mallory-secret", "inspected", [2])


def test_a_lockout_cleared_by_sql_stays_locked(store: SqliteStore, data: Path) -> None:
    run_id = new_run(store)
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            sign(store, run_id, "tech", "not-the-secret", "performed")
    sql(data, "UPDATE people SET status = 'active', failed_attempts = 0")
    with pytest.raises(AuthenticationError, match="locked"):
        sign(store, run_id, "tech", SECRETS["tech"], "performed")
    administer(store).unlock("tech")  # an administrator's signature clears it
    sign(store, run_id, "tech", SECRETS["tech"], "performed")


def test_a_rewritten_authentication_log_is_named(store: SqliteStore, data: Path) -> None:
    run_id = new_run(store)
    with pytest.raises(AuthenticationError):
        sign(store, run_id, "tech", "not-the-secret", "performed")
    sign(store, run_id, "tech", SECRETS["tech"], "performed")  # checkpoint: the registry head
    (failed,) = [
        seq
        for seq, payload in sql(data, "SELECT seq, payload FROM registry ORDER BY seq")
        if '"wrong_secret":true' in payload
    ]
    sql(data, "UPDATE registry SET payload = replace(payload, '\"ok\":false', '\"ok\":true') "
        "WHERE seq = ?", failed)  # fmt: skip
    report = verify_store(store)
    assert f"store: people registry event {failed}: 'auth' content does not match its hash" in (
        " ".join(report.lines())
    )
    rechain(data, "registry", REGISTRY_CHAIN, failed)  # covered up: the chain verifies again...
    report = verify_store(store)
    assert not report.ok
    assert any(  # ...but not what the checkpoint saw
        line.startswith("store: people registry: changed: event ") for line in report.lines()
    ), report.lines()


# -- completeness against the witnesses --------------------------------------------------------


def signed_run(store: SqliteStore) -> str:
    run_id = new_run(store)
    sign(store, run_id, "tech", SECRETS["tech"], "performed")
    sign(store, run_id, "insp", SECRETS["insp"], "inspected", [2])
    return run_id


def test_a_deleted_run_is_named(store: SqliteStore, data: Path) -> None:
    keep, gone = signed_run(store), signed_run(store)
    sql(data, "DELETE FROM events WHERE run_id = ?", gone)
    sql(data, "DELETE FROM runs WHERE run_id = ?", gone)
    report = verify_store(store)
    assert not report.ok
    assert f"store: run {gone}: deleted (checkpoint " in "\n".join(report.lines())
    assert [r.run_id for r in report.runs if r.ok] == [keep]


def test_a_tail_cut_off_with_the_head_fixed_is_named(store: SqliteStore, data: Path) -> None:
    run_id = signed_run(store)
    last = store.head(run_id)
    assert last is not None and last.kind == "signature"
    sql(data, "DELETE FROM events WHERE run_id = ? AND seq = ?", run_id, last.seq)
    sql(data, "UPDATE runs SET head_seq = ?, head_hash = ? WHERE run_id = ?",
        last.seq - 1, last.prev_hash, run_id)  # fmt: skip
    report = verify(store, run_id)
    assert (report.ok, report.first_bad_event) == (False, last.seq)
    assert f"truncated to {last.seq - 1} events (checkpoint " in report.reason
    assert not verify_store(store).ok


def test_an_edited_and_rechained_run_is_named(store: SqliteStore, data: Path) -> None:
    run_id = new_run(store)  # unsigned: only the bench's checkpoint vouches for it
    sql(data, "UPDATE events SET payload = replace(payload, 'PASS', 'FAIL') WHERE run_id = ? "
        "AND seq = 2", run_id)  # fmt: skip
    rechain(data, "events", run_id, 2)
    report = verify(store, run_id)
    assert not report.ok and "changed: event" in report.reason


def test_a_checkpoint_forged_into_the_witness_is_ignored(
    store: SqliteStore, data: Path, private_trust_file: Path
) -> None:
    run_id = signed_run(store)
    trust = Trust.load(private_trust_file)
    (folder,) = list(trust.witnesses[0].iterdir())
    newest = sorted(folder.glob("checkpoint-*.json"))[-1]
    forged = json.loads(newest.read_text())
    forged["runs"] = {}
    forged["seq"] += 1
    (folder / "checkpoint-99999999T999999-99999999-forged.json").write_text(json.dumps(forged))
    sql(data, "DELETE FROM events WHERE run_id = ?", run_id)
    sql(data, "DELETE FROM runs WHERE run_id = ?", run_id)
    report = verify_store(store)
    assert not report.ok
    text = "\n".join(report.lines())
    assert "forged.json: signature by person insp does not verify; ignored" in text
    assert f"run {run_id}: deleted" in text


def test_without_a_trust_file_no_signature_verifies(
    store: SqliteStore, data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = signed_run(store)
    monkeypatch.delenv("HIL_TRUST")
    with SqliteStore(data, readonly=True) as reader:
        report = verify(reader, run_id)
        assert not report.ok and "no trust file names an administrator" in report.reason
    with SqliteStore(data, readonly=True, trust=store.trust) as reader:
        assert verify(reader, run_id).ok
    assert ADMIN_SECRET  # the administrator was never needed to verify
