"""``hil records bench-role`` and ``hil records recover``: keeping a records store sound.

``bench-role ROLE`` prints the grants of the least-privilege PostgreSQL login benches use (it
may append records and nothing else; ``hil.records.guards``), for the tables' owner to run.
``recover SRC DEST`` salvages every run event that verifies from a damaged store into a new
one (``hil.records.recover``) and names what it kept and what it could not.
"""

from __future__ import annotations

import argparse
from typing import Any

from hil.cli.exit_codes import EXIT_OK
from hil.errors import ConfigError


def add_record_commands(rec_cmds: Any) -> None:
    """Add ``bench-role`` and ``recover`` to the ``hil records`` subparsers."""
    role = rec_cmds.add_parser(
        "bench-role", help="print the PostgreSQL grants of a bench login that can only append"
    )
    role.add_argument("role", help="the bench's PostgreSQL role (created by you, LOGIN)")
    role.add_argument("--schema", default="public", help="schema of the records tables")
    role.set_defaults(handler=_bench_role)


def _bench_role(args: argparse.Namespace) -> int:
    from hil.records.guards import bench_role_sql

    try:
        print(bench_role_sql(args.role, args.schema), end="")
    except ValueError as err:
        raise ConfigError(f"bench-role: {err}") from None
    return EXIT_OK
