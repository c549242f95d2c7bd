"""The project's own test helpers, beside the fixtures of hil's pytest plugin.

The benches come from the plugin (``hil/pytest_plugin.py``): ``hil_sim_config`` and
``hil_sim_bench`` (the simulated bench on a channel of the test's own), ``hil_bench`` (the
``--hil-bench`` bench), ``hil_external_bench_config`` (the simulated FC as a device of its
own). Here: a records store per test session, ``channel`` for tests that build their own
bench configuration, and the autouse ``no_leaks`` fixture that fails a test leaving a
pseudo-terminal, a CAN bus or a thread open behind it.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import can.interfaces.virtual as can_virtual
import pytest

from hil.bench import Bench
from hil.core.clock import Clock
from hil.core.config import BenchConfig, load_bench

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# pytest-xdist sets COLUMNS/LINES in its workers; the CLI's tables then wrap at 80 columns.
# Tests that care about the width set it themselves, and subprocesses inherit this.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

ROOT = Path(__file__).resolve().parent.parent
SIM_BENCH = ROOT / "hil" / "data" / "benches" / "sim.toml"
LAB_BENCH = ROOT / "hil" / "data" / "benches" / "lab-example.toml"


def _open_ptys() -> set[str]:
    found = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(("/dev/pts/", "/dev/ptmx")):
            found.add(f"fd {fd} -> {target}")
    return found


def _virtual_buses() -> int:
    return sum(len(queues) for queues in can_virtual.channels.values())


PROCESS_WIDE_THREADS = ("Dask-Offload",)
"""Threads libraries keep for the life of the process by design (not leaks)."""


@pytest.fixture(autouse=True)
def no_leaks() -> Iterator[None]:
    threads_before = set(threading.enumerate())
    ptys_before = _open_ptys()
    buses_before = _virtual_buses()
    yield
    deadline_s = time.monotonic() + 3.0
    while True:
        new_threads = [
            t
            for t in threading.enumerate()
            if t not in threads_before
            and t.is_alive()
            and not t.name.startswith(PROCESS_WIDE_THREADS)
        ]
        leaked_ptys = _open_ptys() - ptys_before
        leaked_buses = _virtual_buses() - buses_before
        if not (new_threads or leaked_ptys or leaked_buses) or time.monotonic() > deadline_s:
            break
        for thread in new_threads:
            thread.join(timeout=0.1)
    problems = []
    if new_threads:
        problems.append(f"threads left running: {[t.name for t in new_threads]}")
    if leaked_ptys:
        problems.append(f"pseudo-terminals left open: {sorted(leaked_ptys)}")
    if leaked_buses > 0:
        problems.append(f"{leaked_buses} python-can virtual bus(es) left open")
    if problems:
        pytest.fail("resource leak: " + "; ".join(problems), pytrace=False)


def private_bench_config(path: Path, channel: str) -> BenchConfig:
    """``path`` loaded, with its CAN channel replaced so the test has the bus to itself."""
    config = load_bench(path)
    return dataclasses.replace(config, can=dataclasses.replace(config.can, channel=channel))


@pytest.fixture(autouse=True, scope="session")
def private_records_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Card runs write their records store under the test session's temporary folder."""
    data = tmp_path_factory.mktemp("hil-data")
    previous = os.environ.get("HIL_DATA")
    os.environ["HIL_DATA"] = str(data)
    yield data
    if previous is None:
        os.environ.pop("HIL_DATA", None)
    else:
        os.environ["HIL_DATA"] = previous


@pytest.fixture(autouse=True)
def private_trust_file(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Each test has its own trust file (``$HIL_TRUST``), empty until the test bootstraps an
    administrator (``records_people.administer``)."""
    path = tmp_path_factory.mktemp("trust") / "trust.toml"
    monkeypatch.setenv("HIL_TRUST", str(path))
    return path


@pytest.fixture
def channel(request: pytest.FixtureRequest) -> str:
    """A CAN channel name nobody else uses."""
    return f"test-{request.node.nodeid}-{time.monotonic_ns()}"


def open_bench(config: BenchConfig, clock: Clock | None = None) -> Bench:
    return Bench(config, clock=clock).open()


# A real PostgreSQL server for the record-store tests (session scope; skipped when the Debian
# server binaries are not installed) with a fresh schema URL per test.
from pg_server import pg_server, pg_url  # noqa: E402, F401
