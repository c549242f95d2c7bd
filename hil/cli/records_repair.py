"""``hil records bench-role`` and ``hil records recover``: keeping a records store sound.

``bench-role ROLE`` prints the grants of the least-privilege PostgreSQL login benches use (it
may append records and nothing else; ``hil.records.guards``), for the tables' owner to run.
``recover SRC DEST`` salvages every run event that verifies from a damaged store into a new
one (``hil.records.recover``) and names what it kept and what it could not.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from hil.cli.exit_codes import EXIT_FAILED, EXIT_OK
from hil.errors import ConfigError


def add_record_commands(rec_cmds: Any) -> None:
    """Add ``bench-role`` and ``recover`` to the ``hil records`` subparsers."""
    role = rec_cmds.add_parser(
        "bench-role", help="print the PostgreSQL grants of a bench login that can only append"
    )
    role.add_argument("role", help="the bench's PostgreSQL role (created by you, LOGIN)")
    role.add_argument("--schema", default="public", help="schema of the records tables")
    role.set_defaults(handler=_bench_role)
    recover = rec_cmds.add_parser(
        "recover", help="salvage every event that verifies from a damaged store into a new one"
    )
    recover.add_argument("source", help="data folder of the damaged SQLite store")
    recover.add_argument("dest", type=Path, help="new data folder to write (must hold no store)")
    recover.set_defaults(handler=_recover)


def _bench_role(args: argparse.Namespace) -> int:
    from hil.records.guards import bench_role_sql

    try:
        print(bench_role_sql(args.role, args.schema), end="")
    except ValueError as err:
        raise ConfigError(f"bench-role: {err}") from None
    return EXIT_OK


def _recover(args: argparse.Namespace) -> int:
    from hil.records.recover import recover

    if "://" in str(args.source):
        raise ConfigError(
            f"recover {args.source}: give the data folder of a SQLite store (a PostgreSQL "
            "server is recovered with its own tools: WAL archive, pg_dump)"
        )
    report = recover(Path(args.source).expanduser(), args.dest)
    for line in report.lines():
        print(line)
    kept = sum(not run.lost for run in report.runs)
    print(
        f"recovered {kept} of {len(report.runs)} runs into {args.dest}"
        + (f"; {len(report.damaged)} damaged or lost" if report.damaged else "")
    )
    return EXIT_FAILED if report.damaged else EXIT_OK


def damage_report(location: str, err: Exception) -> list[str] | None:
    """When the SQLite store at ``location`` cannot be read whole: one line per run saying
    what of it survives (``hil.records.recover.survey``), the error first. None for a store
    that is not a SQLite folder or cannot be surveyed either."""
    from hil.records.backends import is_postgres
    from hil.records.errors import RecordError
    from hil.records.recover import survey

    if is_postgres(location):
        return None
    try:
        report = survey(Path(location.removeprefix("sqlite://")).expanduser())
    except RecordError:
        return None
    return [f"records store {location}: damaged ({err}); run by run:", *report.lines()]
