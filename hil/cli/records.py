"""``hil people`` and ``hil records``: identities, and listing, showing, verifying, exporting and
signing as-run records.

``add_commands(subparsers)`` adds both to the ``hil`` parser; handlers raise ``HilError`` and
let ``hil.cli.main.main`` print it as one line (exit 1; 2 for a usage or configuration error). The
store is ``--store URL`` (a folder, ``sqlite:///DIR`` or ``postgresql://...``), else ``--data
DIR``, else ``$HIL_STORE``, else ``$HIL_DATA``, else ``~/.local/share/hil``. A secret is
never a command-line argument: it comes from ``--secret-file``, else ``$HIL_SECRET`` (CI,
tests), else a terminal prompt.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from hil.cli.exit_codes import EXIT_FAILED, EXIT_OK
from hil.errors import ConfigError

SECRET_ENV = "HIL_SECRET"


def add_commands(subparsers: Any) -> None:
    """Add ``people`` and ``records`` to the ``hil`` command's subparsers."""
    from hil.cli.store_options import add_store_arguments

    people = subparsers.add_parser("people", help="who may sign records: add, list, revoke")
    people_cmds = people.add_subparsers(title="people commands", metavar="COMMAND")
    add = people_cmds.add_parser("add", help="register a person with a secret and signing key")
    add.add_argument("person_id", help="login id (letters, digits, . _ -)")
    add.add_argument("--name", required=True, help="printed name shown on signatures")
    add.add_argument(
        "--role",
        action="append",
        required=True,
        choices=["technician", "inspector", "engineer", "admin"],
        help="a role (repeat for several)",
    )
    add.add_argument(
        "--auth",
        action="append",
        default=[],
        metavar="SCOPE:CERT:YYYY-MM-DD",
        help="an authorization: card-number glob, certificate number, expiry (repeatable)",
    )
    _secret_argument(add)
    add.set_defaults(handler=_people_add)
    listing = people_cmds.add_parser("list", help="list people, roles and authorizations")
    listing.set_defaults(handler=_people_list)
    revoke = people_cmds.add_parser("revoke", help="stop a person from signing")
    revoke.add_argument("person_id")
    revoke.add_argument("--reason", required=True)
    revoke.set_defaults(handler=_people_revoke)
    unlock = people_cmds.add_parser("unlock", help="clear a lockout after wrong secrets")
    unlock.add_argument("person_id")
    unlock.set_defaults(handler=_people_unlock)

    records = subparsers.add_parser("records", help="as-run records: list, show, verify, export")
    rec_cmds = records.add_subparsers(title="records commands", metavar="COMMAND")
    rec_list = rec_cmds.add_parser("list", help="list runs")
    rec_list.set_defaults(handler=_records_list)
    show = rec_cmds.add_parser("show", help="show a run's steps, signatures and integrity")
    show.add_argument("run_id", help="run id or a unique prefix")
    show.set_defaults(handler=_records_show)
    check = rec_cmds.add_parser("verify", help="recompute the hash chain and check signatures")
    check.add_argument("run_id", nargs="*", help="run ids (default: every run)")
    check.set_defaults(handler=_records_verify)
    export = rec_cmds.add_parser("export", help="write RUN.json and a printable RUN.html")
    export.add_argument("run_id")
    export.add_argument("--out", type=Path, default=Path("."), help="folder (default: .)")
    export.set_defaults(handler=_records_export)
    signing = rec_cmds.add_parser("sign", help="sign steps or the card (performed/inspected/...)")
    signing.add_argument("run_id")
    signing.add_argument("--person", required=True, help="your person id")
    signing.add_argument("--meaning", required=True, choices=["performed", "inspected", "approved"])
    signing.add_argument(
        "--steps", default="", help="comma-separated step numbers (default: the whole card)"
    )
    _secret_argument(signing)
    signing.set_defaults(handler=_records_sign)
    for parser in (add, listing, revoke, unlock, rec_list, show, check, export, signing):
        add_store_arguments(parser)
    from hil.cli.records_repair import add_record_commands

    add_record_commands(rec_cmds)


def _secret_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret-file",
        type=Path,
        default=None,
        help=f"read the secret from this file (else ${SECRET_ENV}, else a prompt)",
    )


def read_secret(args: argparse.Namespace, prompt: str, *, confirm: bool = False) -> str:
    """The secret from ``--secret-file``, ``$HIL_SECRET`` or a prompt. Raises ``ConfigError``."""
    path: Path | None = getattr(args, "secret_file", None)
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"secret file {path}: cannot read ({err.strerror})") from err
        secret = text.splitlines()[0] if text else ""
        if not secret:
            raise ConfigError(f"secret file {path}: empty")
        return secret
    env = os.environ.get(SECRET_ENV)
    if env:
        return env
    if not sys.stdin.isatty():
        raise ConfigError(f"no secret: use --secret-file, set {SECRET_ENV} or run in a terminal")
    secret = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != secret:
        raise ConfigError("the two secrets differ")
    return secret


def _store(args: argparse.Namespace, *, readonly: bool = False) -> Any:
    """The opened store ``--store``/``--data``/``$HIL_STORE``/``$HIL_DATA`` name. A local
    SQLite store that cannot be written is opened read-only for the reading commands."""
    from hil.records.backends import is_postgres, open_store, store_location
    from hil.records.sqlite import DB_NAME

    location = store_location(args.store, args.data)
    if readonly and not is_postgres(location):
        path = Path(location.removeprefix("sqlite://")).expanduser()
        if not os.access(path / DB_NAME, os.W_OK):
            return open_store(location, readonly=True)
    return open_store(location)


def _people_add(args: argparse.Namespace) -> int:
    from hil.records.errors import RecordError
    from hil.records.people import Authorization

    try:
        auths = [Authorization.parse(text) for text in args.auth]
    except RecordError as err:
        raise ConfigError(str(err)) from None
    secret = read_secret(args, f"secret for {args.person_id}: ", confirm=True)
    with _store(args) as store:
        person = store.people.add(args.person_id, args.name, args.role, secret, auths)
    print(f"added {person.printed_name} ({person.person_id}), key {person.key_id}")
    return EXIT_OK


def _people_list(args: argparse.Namespace) -> int:
    from hil.cli.output import table

    with _store(args, readonly=True) as store:
        people = store.people.all()
    rows = [
        (
            p.person_id,
            p.printed_name,
            ", ".join(r.value for r in p.roles),
            "; ".join(f"{a.scope} {a.certificate} to {a.expires}" for a in p.authorizations) or "-",
            p.status,
            p.key_id,
        )
        for p in people
    ]
    print(table(["id", "printed name", "roles", "authorizations", "status", "key"], rows))
    return EXIT_OK


def _people_revoke(args: argparse.Namespace) -> int:
    with _store(args) as store:
        person = store.people.revoke(args.person_id, args.reason)
    print(f"revoked {person.printed_name} ({person.person_id}): {person.revoke_reason}")
    return EXIT_OK


def _people_unlock(args: argparse.Namespace) -> int:
    with _store(args) as store:
        person = store.people.unlock(args.person_id)
    print(f"unlocked {person.printed_name} ({person.person_id})")
    return EXIT_OK


def _records_list(args: argparse.Namespace) -> int:
    from hil.cli.output import table
    from hil.records.errors import StorageError

    try:
        with _store(args, readonly=True) as store:
            runs = store.runs()
            lost = store.lost_runs() if hasattr(store, "lost_runs") else []
    except StorageError as err:
        return _damaged(args, err)
    rows = [
        (
            r.run_id,
            r.card_number,
            r.revision,
            r.lander,
            r.operator_id,
            r.created_utc[:19],
            r.status,
            r.outcome or "-",
            r.event_count,
        )
        for r in runs
    ]
    headers = ["run", "card", "rev", "lander", "operator", "started (UTC)", "status", "outcome"]
    print(table([*headers, "events"], rows))
    for line in lost:
        print(line)
    return EXIT_FAILED if lost else EXIT_OK


def _damaged(args: argparse.Namespace, err: Exception) -> int:
    """A store that cannot be read whole: name what survives of each run, or re-raise."""
    from hil.cli.records_repair import damage_report
    from hil.records.backends import store_location

    lines = damage_report(store_location(args.store, args.data), err)
    if lines is None:
        raise err
    for line in lines:
        print(line)
    return EXIT_FAILED


def _records_show(args: argparse.Namespace) -> int:
    from hil.cli.output import table
    from hil.records.export import _limits, _result
    from hil.records.state import RunState
    from hil.records.verify import verify

    with _store(args, readonly=True) as store:
        info = store.run(args.run_id)
        events = store.events(info.run_id)
        report = verify(store, info.run_id)
    state = RunState.from_events(info.run_id, events)
    print(f"run {info.run_id}: card {info.card_number} rev {info.revision} ({info.title})")
    print(f"lander {info.lander}, operator {info.operator_id}, {info.status} {info.outcome or ''}")
    rows = [
        (
            e.payload.get("step"),
            e.payload.get("attempt"),
            str(e.payload.get("text", ""))[:40],
            _result(e.payload),
            _limits(e.payload),
            e.payload.get("outcome"),
            "RII" if e.payload.get("rii") else "",
        )
        for e in events
        if e.kind == "attempt"
    ]
    print()
    print(table(["step", "try", "text", "result", "limits", "outcome", ""], rows, title="Steps"))
    sig_rows = [
        (
            s.printed_name,
            s.meaning,
            "card" if s.on_card else ",".join(map(str, s.steps)),
            s.signed_utc,
        )
        for s in state.signatures
    ]
    print()
    print(table(["printed name", "meaning", "covers", "UTC"], sig_rows, title="Signatures"))
    if state.outstanding_rii():
        print("RII steps awaiting inspection: " + ", ".join(map(str, state.outstanding_rii())))
    print()
    print(report.describe())
    return EXIT_OK if report.ok else EXIT_FAILED


def _records_verify(args: argparse.Namespace) -> int:
    from hil.records.errors import StorageError
    from hil.records.verify import verify

    failed = 0
    try:
        with _store(args, readonly=True) as store:
            ids = args.run_id or [run.run_id for run in store.runs()]
            for run_id in ids:
                try:
                    report = verify(store, run_id)
                except StorageError as err:  # this run's pages are damaged: name it, go on
                    print(f"run {run_id}: UNREADABLE: {err}")
                    failed += 1
                    continue
                print(report.describe())
                failed += not report.ok
            lost = store.lost_runs() if hasattr(store, "lost_runs") else []
    except StorageError as err:
        return _damaged(args, err)
    for line in lost:
        print(line)
    failed += len(lost)
    if not ids and not lost:
        print("no runs")
    return EXIT_FAILED if failed else EXIT_OK


def _records_export(args: argparse.Namespace) -> int:
    from hil.records.export import export_html, export_json
    from hil.records.verify import verify

    with _store(args, readonly=True) as store:
        info = store.run(args.run_id)
        report = verify(store, info.run_id)
        json_path = export_json(store, info.run_id, args.out / f"{info.run_id}.json", report)
        html_path = export_html(store, info.run_id, args.out / f"{info.run_id}.html", report)
    print(f"wrote {json_path} and {html_path}")
    print(report.describe())
    return EXIT_OK if report.ok else EXIT_FAILED


def _records_sign(args: argparse.Namespace) -> int:
    from hil.records.signoff import sign

    try:
        steps = [int(part) for part in args.steps.split(",") if part.strip()]
    except ValueError:
        raise ConfigError(f"--steps {args.steps!r}: use comma-separated step numbers") from None
    secret = read_secret(args, f"secret for {args.person}: ")
    with _store(args) as store:
        event = sign(store, args.run_id, args.person, secret, args.meaning, steps)
    payload = event.payload
    covers = "the whole card" if not steps else "steps " + ", ".join(map(str, steps))
    print(
        f"signed {payload['meaning']} by {payload['printed_name']} at {payload['signed_utc']} "
        f"over {covers} (event {event.seq})"
    )
    return EXIT_OK
