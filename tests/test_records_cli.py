"""``hil people`` and ``hil records`` as a user runs them: tables, verdicts, one-line errors."""

from __future__ import annotations

import argparse
import socket
import sqlite3
from pathlib import Path

import pytest

from hil.cli import main as hil_cli
from hil.cli.records import add_commands
from hil.records import open_store


@pytest.fixture
def data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """``hil.cli.main.main`` with the records commands added (until the lead wires them in), and a
    data directory chosen through ``$HIL_DATA``."""
    build = hil_cli._parser

    def parser() -> argparse.ArgumentParser:
        built = build()
        for action in built._actions:
            if isinstance(action, argparse._SubParsersAction) and "records" not in action.choices:
                add_commands(action)
        return built

    monkeypatch.setattr(hil_cli, "_parser", parser)
    data = tmp_path / "data"
    monkeypatch.setenv("HIL_DATA", str(data))
    return data


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(
    request: pytest.FixtureRequest, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The records store the commands use: the data directory, or a PostgreSQL URL given
    through ``$HIL_STORE`` (which wins over ``$HIL_DATA``)."""
    if request.param == "sqlite":
        return str(data_dir)
    url = str(request.getfixturevalue("pg_url"))
    monkeypatch.setenv("HIL_STORE", url)
    return url


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = hil_cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err.strip()


def test_people_records_sign_verify_and_export(
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    secret = tmp_path / "secret"
    secret.write_text("jane-secret\n")
    admin_secret = tmp_path / "admin-secret"
    admin_secret.write_text("admin-secret\n")
    code, out, err = run(
        [
            "people",
            "bootstrap-admin",
            "root",
            "--name",
            "R. Admin",
            "--secret-file",
            str(admin_secret),
        ],
        capsys,
    )
    assert code == 0, err
    assert out.startswith("administrator R. Admin (root), key ") and "fingerprint" in out
    monkeypatch.setenv("HIL_ADMIN_SECRET", "admin-secret")
    code, out, _ = run(
        [
            "people",
            "add",
            "jane",
            "--name",
            "Jane Tech",
            "--role",
            "technician",
            "--auth",
            "LL-*:A&P-123:2099-12-31",
            "--secret-file",
            str(secret),
            "--admin",
            "root",
        ],
        capsys,
    )
    assert code == 0 and out.startswith("added Jane Tech (jane), key ")
    code, out, _ = run(["people", "list"], capsys)
    assert "Jane Tech" in out and "LL-* A&P-123 to 2099-12-31" in out and "active" in out
    with open_store(store_url) as store:
        run_id = store.create_run(
            {"card": {"number": "LL-34-1", "revision": "A", "title": "IMU"}, "operator_id": "jane"}
        )
        store.append(
            run_id,
            "attempt",
            {
                "step": 1,
                "kind": "measurement",
                "text": "rate",
                "attempt": 1,
                "finished_utc": "t",
                "outcome": "PASS",
                "name": "rate",
                "value": 10.0,
                "unit": "Hz",
                "low": 9.5,
                "high": 10.5,
            },
        )
        store.finish(run_id, "PASS")
    monkeypatch.setenv("HIL_SECRET", "jane-secret")
    code, out, err = run(
        ["records", "sign", run_id[:10], "--person", "jane", "--meaning", "performed"], capsys
    )
    assert code == 0, err
    assert out.startswith("signed performed by Jane Tech at ") and "the whole card" in out
    code, out, _ = run(["records", "list"], capsys)
    assert run_id in out and "LL-34-1" in out and "finished" in out
    code, out, _ = run(["records", "show", run_id], capsys)
    assert code == 0 and "rate = 10 Hz" in out and "9.5 .. 10.5 Hz" in out
    assert "Jane Tech" in out and f"run {run_id}: OK (4 events, 1 signatures)" in out
    code, out, _ = run(["records", "export", run_id, "--out", str(tmp_path / "out")], capsys)
    assert code == 0
    assert (tmp_path / "out" / f"{run_id}.html").exists()
    assert (tmp_path / "out" / f"{run_id}.json").exists()
    edit = "UPDATE events SET payload = replace(payload, '10.0', '10.6') WHERE seq = 2"
    if store_url.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(store_url, autocommit=True) as pg:
            pg.execute("ALTER TABLE events DISABLE TRIGGER USER")
            pg.execute(edit)
    else:
        with sqlite3.connect(Path(store_url) / "records.sqlite3") as db:
            db.execute("DROP TRIGGER events_append_only_update")
            db.execute(edit)
    code, out, _ = run(["records", "verify"], capsys)
    assert code == 1
    lines = out.strip().splitlines()
    assert lines[0] == (
        f"run {run_id}: FAILED at event 2: 'attempt' content does not match its hash (edited?)"
    )
    assert lines[1:] == [lines[-1]] and lines[-1].startswith("checked against checkpoint ")


def test_errors_are_one_line_with_the_right_exit_code(
    data_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("HIL_SECRET", raising=False)
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    code, _, err = run(["people", "add", "bob", "--name", "Bob", "--role", "inspector"], capsys)
    assert (code, err) == (
        2,
        "hil: no secret: use --secret-file, set HIL_SECRET or run in a terminal",
    )
    code, _, err = run(
        ["people", "add", "bob", "--name", "Bob", "--role", "inspector", "--auth", "LL-*"], capsys
    )
    assert (code, err) == (2, "hil: authorization 'LL-*': expected SCOPE:CERTIFICATE:YYYY-MM-DD")
    database = data_dir / "records.sqlite3"
    code, _, err = run(["records", "show", "nope"], capsys)
    assert (code, err) == (
        1,
        f"hil: records database {database}: not found (nothing recorded here yet)",
    )
    monkeypatch.setenv("HIL_SECRET", "short")
    code, _, err = run(["people", "add", "bob", "--name", "Bob", "--role", "inspector"], capsys)
    assert (code, err) == (1, "hil: person 'bob': secret must have at least 8 characters")
    code, _, err = run(["records", "show", "nope"], capsys)
    assert (code, err) == (2, f"hil: run 'nope': not in {database}")  # usage, not a FAIL


def test_store_urls_name_the_backend_and_failures_are_one_line(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "elsewhere"
    code, _, err = run(["records", "list", "--store", f"sqlite://{elsewhere}"], capsys)
    assert (code, err) == (1, f"hil: records database {elsewhere / 'records.sqlite3'}: not found "
                           "(nothing recorded here yet)")  # fmt: skip
    code, _, err = run(["people", "list", "--store", "mysql://root@db/hil"], capsys)
    assert code == 2 and err.startswith("hil: records store mysql://root@db/hil: unknown scheme")
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"postgresql://hil:s3cret@127.0.0.1:{port}/records"
    code, _, err = run(["records", "list", "--store", url], capsys)
    assert code == 1 and "\n" not in err and "s3cret" not in err
    assert err.startswith(
        f"hil: records database postgresql://hil:***@127.0.0.1:{port}/records: cannot connect ("
    )
    code, _, err = run(["records", "list", "--store", "postgresql://h:1:2:3/x?bogus=1"], capsys)
    assert code == 2 and err.startswith(
        "hil: records store postgresql://h:1:2:3/x?bogus=1: bad URL"
    )
