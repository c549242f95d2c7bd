"""A real PostgreSQL server for the tests, from the Debian package's binaries.

``pg_server`` (session scope) runs ``initdb`` into a fresh folder under the system temporary
directory and starts the server on a free loopback port, its unix socket in the same folder; as
root it runs both as the ``postgres`` system user (``initdb`` refuses root). It is stopped at the
end of the session. Without server binaries (``/usr/lib/postgresql/*/bin``) every test that
uses it is skipped with the reason (fails instead with ``HIL_REQUIRE_POSTGRES=1``, as in CI,
so a broken install cannot pass unnoticed). ``pg_url`` gives each test a fresh schema of its
own, as a ``postgresql://`` URL that selects it (``options=-csearch_path=...``).

The server runs with ``fsync=off``: it lives for one test session in a temporary folder, so
durability against power loss is not what is tested here.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

DATABASE = "hil_test"


def _bindir() -> Path | None:
    found = sorted(
        (Path(path).parent for path in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda bindir: int(bindir.parent.name) if bindir.parent.name.isdigit() else 0,
    )
    if found:
        return found[-1]
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """A running test server: ``url(schema)`` to reach it, ``admin()`` for a superuser
    connection (to tamper, as someone with the database would)."""

    def __init__(self, bindir: Path, root: Path, as_user: list[str]) -> None:
        self.bindir = bindir
        self.root = root
        self.data = root / "data"
        self.as_user = as_user
        self.port = 0
        self._schemas = itertools.count(1)

    def _run(self, *args: str) -> None:
        result = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {result.stderr.strip() or result.stdout}")

    def start(self) -> None:
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-locale", "--no-sync",
        )  # fmt: skip
        for attempt in range(3):
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                "-c fsync=off -c full_page_writes=off -c max_connections=50"
            )
            try:
                self._run(
                    str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l",
                    str(self.root / "server.log"), "-w", "-t", "60", "-o", options, "start",
                )  # fmt: skip
                break
            except RuntimeError:
                if attempt == 2:
                    raise
        import psycopg

        with psycopg.connect(self.dsn("postgres"), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {DATABASE}")

    def stop(self) -> None:
        if self.port:
            subprocess.run(
                [*self.as_user, str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m",
                 "immediate", "-w", "stop"],
                capture_output=True, timeout=60, check=False,
            )  # fmt: skip

    def dsn(self, database: str = DATABASE) -> str:
        return f"host={self.root} port={self.port} user=postgres dbname={database}"

    def admin(self, schema: str | None = None):  # type: ignore[no-untyped-def]
        import psycopg

        options = f" options='-c search_path={schema}'" if schema else ""
        return psycopg.connect(self.dsn() + options, autocommit=True)

    def new_schema(self) -> str:
        name = f"t{next(self._schemas)}"
        with self.admin() as db:
            db.execute(f"CREATE SCHEMA {name}")
        return name

    def url(self, schema: str) -> str:
        return (
            f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"
            f"?options=-csearch_path%3D{schema}"
        )


def _unavailable(reason: str) -> NoReturn:
    if os.environ.get("HIL_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL tests required (HIL_REQUIRE_POSTGRES=1): {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A PostgreSQL server for this test session (skips when none is installed)."""
    bindir = _bindir()
    if bindir is None:
        _unavailable("no PostgreSQL server binaries (Debian package 'postgresql') installed")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _unavailable("psycopg is not installed")
    as_user: list[str] = []
    root = Path(tempfile.mkdtemp(prefix="hil-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam("postgres")
        except KeyError:
            shutil.rmtree(root, ignore_errors=True)
            _unavailable("running as root and there is no 'postgres' user to run the server as")
        os.chown(root, user.pw_uid, user.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    assert bindir is not None
    server = PgServer(bindir, root, as_user)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A URL to a fresh, empty schema on the test server."""
    return pg_server.url(pg_server.new_schema())
