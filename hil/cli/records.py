"""``hil people`` and ``hil records``: identities, and listing, showing, verifying, exporting and
signing as-run records.

``add_commands(subparsers)`` adds both to the ``hil`` parser; handlers raise ``HilError`` and
let ``hil.cli.main.main`` print it as one line (``hil.cli.exit_codes``: an unknown run or person
is a usage error, 2; a refused sign-off or a failed verification is 1). The
store is ``--store URL`` (a folder, ``sqlite:///DIR`` or ``postgresql://...``), else ``--data
DIR``, else ``$HIL_STORE``, else ``$HIL_DATA``, else ``~/.local/share/hil``; the trust file
(administrator keys, witnesses: ``hil.records.trust``) is ``--trust FILE``, else ``$HIL_TRUST``.
A secret is never a command-line argument: it comes from ``--secret-file``, else ``$HIL_SECRET``
(CI, tests), else a terminal prompt; an administrator's from ``--admin-secret-file``, else
``$HIL_ADMIN_SECRET``, else a prompt. Changing people needs an administrator (``--admin ID``);
``hil people bootstrap-admin`` makes the first one, once, and writes the trust file.
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
ADMIN_SECRET_ENV = "HIL_ADMIN_SECRET"


def add_commands(subparsers: Any) -> None:
    """Add ``people`` and ``records`` to the ``hil`` command's subparsers."""
    from hil.cli.output import add_json_argument
    from hil.cli.store_options import add_store_arguments

    people = subparsers.add_parser("people", help="who may sign records: add, list, revoke")
    people_cmds = people.add_subparsers(title="people commands", metavar="COMMAND")
    boot = people_cmds.add_parser(
        "bootstrap-admin",
        help="register the first administrator and write the trust file (once per site)",
        description="Register the first administrator of an empty people registry, and write "
        "their public key into the trust file (--trust, else $HIL_TRUST), with a bench "
        "checkpoint key and a witness folder beside it unless the file names them. Keep the "
        "trust file, the bench key and the witness folder outside the records database.",
    )
    boot.add_argument("person_id", help="the administrator's login id")
    boot.add_argument("--name", required=True, help="printed name")
    _secret_argument(boot)
    boot.set_defaults(handler=_people_bootstrap)
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
    _admin_arguments(add)
    add.set_defaults(handler=_people_add)
    authorize = people_cmds.add_parser("authorize", help="give a person one more authorization")
    authorize.add_argument("person_id")
    authorize.add_argument("--auth", required=True, metavar="SCOPE:CERT:YYYY-MM-DD")
    _admin_arguments(authorize)
    authorize.set_defaults(handler=_people_authorize)
    listing = people_cmds.add_parser("list", help="list people, roles and authorizations")
    listing.set_defaults(handler=_people_list)
    revoke = people_cmds.add_parser("revoke", help="stop a person from signing")
    revoke.add_argument("person_id")
    revoke.add_argument("--reason", required=True)
    _admin_arguments(revoke)
    revoke.set_defaults(handler=_people_revoke)
    unlock = people_cmds.add_parser("unlock", help="clear a lockout after wrong secrets")
    unlock.add_argument("person_id")
    _admin_arguments(unlock)
    unlock.set_defaults(handler=_people_unlock)

    from hil.cli.help_text import RECORDS_EPILOG

    records = subparsers.add_parser(
        "records",
        help="as-run records: list, show, verify, export",
        epilog=RECORDS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rec_cmds = records.add_subparsers(title="records commands", metavar="COMMAND")
    rec_list = rec_cmds.add_parser("list", help="list runs")
    add_json_argument(rec_list)
    rec_list.set_defaults(handler=_records_list)
    show = rec_cmds.add_parser("show", help="show a run's steps, signatures and integrity")
    show.add_argument("run_id", help="run id or a unique prefix")
    add_json_argument(show)
    show.set_defaults(handler=_records_show)
    check = rec_cmds.add_parser(
        "verify",
        help="recompute the hash chains, check signatures and the newest trusted checkpoint",
    )
    check.add_argument(
        "run_id",
        nargs="*",
        help="run ids (default: the whole store: every run, the people registry, and every run "
        "the newest trusted checkpoint saw)",
    )
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
    for parser in (
        boot,
        add,
        authorize,
        listing,
        revoke,
        unlock,
        rec_list,
        show,
        check,
        export,
        signing,
    ):
        add_store_arguments(parser)
        parser.add_argument(
            "--trust",
            type=Path,
            default=None,
            metavar="FILE",
            help="trust file: administrator keys and checkpoint witnesses (default: $HIL_TRUST)",
        )
    from hil.cli.records_repair import add_record_commands

    add_record_commands(rec_cmds)


def _admin_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--admin", default=None, metavar="ID", help="your administrator id")
    parser.add_argument(
        "--admin-secret-file",
        type=Path,
        default=None,
        help=f"read the administrator's secret from this file (else ${ADMIN_SECRET_ENV}, "
        "else a prompt)",
    )


def _secret_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--secret-file",
        type=Path,
        default=None,
        help=f"read the secret from this file (else ${SECRET_ENV}, else a prompt)",
    )


def read_secret(
    args: argparse.Namespace,
    prompt: str,
    *,
    confirm: bool = False,
    option: str = "secret_file",
    env_name: str = SECRET_ENV,
) -> str:
    """The secret from ``--secret-file``, ``$HIL_SECRET`` or a prompt (``option`` and
    ``env_name`` name another pair). Raises ``ConfigError``."""
    path: Path | None = getattr(args, option, None)
    if path is not None:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as err:
            raise ConfigError(f"secret file {path}: cannot read ({err.strerror})") from err
        secret = text.splitlines()[0] if text else ""
        if not secret:
            raise ConfigError(f"secret file {path}: empty")
        return secret
    env = os.environ.get(env_name)
    if env:
        return env
    if not sys.stdin.isatty():
        flag = "--" + option.replace("_", "-")
        raise ConfigError(f"no secret: use {flag}, set {env_name} or run in a terminal")
    secret = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != secret:
        raise ConfigError("the two secrets differ")
    return secret


def _store(args: argparse.Namespace, *, readonly: bool = False) -> Any:
    """The opened store ``--store``/``--data``/``$HIL_STORE``/``$HIL_DATA`` name. A local
    SQLite store that cannot be written is opened read-only for the reading commands."""
    from hil.records.backends import is_postgres, open_store, store_location
    from hil.records.sqlite import DB_NAME
    from hil.records.trust import Trust

    location = store_location(args.store, args.data)
    trust = Trust.load(args.trust) if getattr(args, "trust", None) else None
    if readonly and not is_postgres(location):
        path = Path(location.removeprefix("sqlite://")).expanduser()
        if not os.access(path / DB_NAME, os.W_OK):
            return open_store(location, readonly=True, trust=trust)
    return open_store(location, trust=trust)


def _administrator(args: argparse.Namespace, store: Any) -> Any:
    """The administrator ``--admin`` names, logged in with their secret."""
    from hil.records.admin import Administrator

    if not args.admin:
        raise ConfigError("changing people needs an administrator: --admin ID")
    secret = read_secret(
        args,
        f"administrator secret for {args.admin}: ",
        option="admin_secret_file",
        env_name=ADMIN_SECRET_ENV,
    )
    return Administrator.login(store, args.admin, secret)


def _people_bootstrap(args: argparse.Namespace) -> int:
    from hil.records.admin import bootstrap_admin
    from hil.records.people import PeopleStore
    from hil.records.trust import fingerprint

    PeopleStore.check_new(args.person_id, args.name, ["admin"], "x" * 64)
    secret = read_secret(args, f"secret for {args.person_id}: ", confirm=True)
    with _store(args) as store:
        person = bootstrap_admin(store, args.person_id, args.name, secret, args.trust)
        trust = store.trust
    print(f"administrator {person.printed_name} ({person.person_id}), key {person.key_id}")
    print(f"  fingerprint {fingerprint(person.public_key)}")
    print(f"  written to trust file {trust.path}")
    if trust.bench_key is not None:
        print(f"  bench checkpoint key {trust.bench_key}")
    for witness in trust.witnesses:
        print(f"  checkpoints kept in {witness}")
    return EXIT_OK


def _people_add(args: argparse.Namespace) -> int:
    from hil.records.errors import RecordError
    from hil.records.people import Authorization

    try:
        auths = [Authorization.parse(text) for text in args.auth]
    except RecordError as err:
        raise ConfigError(str(err)) from None
    from hil.records.people import PeopleStore

    secret = read_secret(args, f"secret for {args.person_id}: ", confirm=True)
    with _store(args) as store:
        PeopleStore.check_new(args.person_id, args.name, args.role, secret)
        admin = _administrator(args, store)
        person = admin.add(args.person_id, args.name, args.role, secret, auths)
    print(f"added {person.printed_name} ({person.person_id}), key {person.key_id}")
    return EXIT_OK


def _people_authorize(args: argparse.Namespace) -> int:
    from hil.records.errors import RecordError
    from hil.records.people import Authorization

    try:
        authorization = Authorization.parse(args.auth)
    except RecordError as err:
        raise ConfigError(str(err)) from None
    with _store(args) as store:
        person = _administrator(args, store).authorize(args.person_id, authorization)
    print(f"authorized {person.printed_name} ({person.person_id}): {args.auth}")
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
        person = _administrator(args, store).revoke(args.person_id, args.reason)
    print(f"revoked {person.printed_name} ({person.person_id}): {person.revoke_reason}")
    return EXIT_OK


def _people_unlock(args: argparse.Namespace) -> int:
    with _store(args) as store:
        person = _administrator(args, store).unlock(args.person_id)
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
    if args.json:
        from hil.cli.output import print_json

        print_json({"runs": [run.to_dict() for run in runs], "lost": list(lost)})
        return EXIT_FAILED if lost else EXIT_OK
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
    if args.json:
        from hil.cli.output import print_json

        print_json(
            {
                "run": info.to_dict(),
                "attempts": [e.payload for e in events if e.kind == "attempt"],
                "teardown": state.teardown,
                "signatures": [
                    {
                        "printed_name": s.printed_name,
                        "person_id": s.person_id,
                        "meaning": s.meaning,
                        "steps": list(s.steps),
                        "on_card": s.on_card,
                        "signed_utc": s.signed_utc,
                    }
                    for s in state.signatures
                ],
                "outstanding_rii": list(state.outstanding_rii()),
                "verification": {**report.to_dict(), "text": report.describe()},
            }
        )
        return EXIT_OK if report.ok else EXIT_FAILED
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
    from hil.records.audit import verify_store
    from hil.records.errors import StorageError
    from hil.records.verify import VerifyContext, verify

    failed = 0
    try:
        with _store(args, readonly=True) as store:
            lost = store.lost_runs() if hasattr(store, "lost_runs") else []
            if not args.run_id:
                whole = verify_store(store)
                if not whole.runs and not lost:
                    print("no runs")
                print("\n".join(whole.lines()))
                failed += not whole.ok
            else:
                context = VerifyContext.of(store)
                for run_id in args.run_id:
                    try:
                        report = verify(store, run_id, context=context)
                    except StorageError as err:  # this run's pages are damaged: name it, go on
                        print(f"run {run_id}: UNREADABLE: {err}")
                        failed += 1
                        continue
                    print(report.describe())
                    failed += not report.ok
    except StorageError as err:
        return _damaged(args, err)
    for line in lost:
        print(line)
    failed += len(lost)
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
