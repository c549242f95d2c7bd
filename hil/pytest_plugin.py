"""The pytest plugin: bench fixtures for anyone who tests avionics with ``hil`` under pytest.

Installed with the package (entry point ``pytest11``), so ``pytest`` in any project that has
``hil`` installed gets:

``--hil-bench FILE|NAME``
    the bench the fixtures open (default ``$HIL_BENCH``, else the simulated bench ``sim``).
``hil_bench_config``, ``hil_bench``
    that bench's configuration and the bench opened on the wall clock. A bench on a
    python-can ``virtual`` channel gets a channel of its own per test, so tests never hear
    each other.
``hil_fc``, ``hil_signals``
    the opened bench's flight computer driver and its signal store.
``hil_records``
    a records store of the test's own (SQLite in the test's temporary folder).
``hil_card``
    runs a card of the library (by number, name or path) on the opened bench with scripted
    answers (CI's by default) and records it in ``hil_records``; returns the as-run record.
``hil_sim_config``, ``hil_sim_bench``
    the in-process simulated bench whatever ``--hil-bench`` says (lockstep-capable).
``hil_external_bench_config``
    the simulated FC started as a device of its own (``hil device fc``) for the session, and
    an all-``wire`` bench pointed at it: the two-process rehearsal of a hardware bench.
``@pytest.mark.hil_hardware``
    the test needs a device on the wire: it runs when the ``--hil-bench`` bench has a
    ``wire`` backend and is skipped, saying why, on a simulated bench.

``examples/test_bench_example.py`` shows them in use (docs/architecture.md, "pytest plugin").
"""

from __future__ import annotations

import dataclasses
import functools
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from hil.bench import Bench
    from hil.cards.record import AsRunRecord
    from hil.core.config import BenchConfig
    from hil.core.signals import SignalStore
    from hil.drivers.roles import FlightComputer
    from hil.records.store import RecordStore

BENCH_ENV = "HIL_BENCH"
DEFAULT_BENCH_NAME = "sim"
HARDWARE_MARK = "hil_hardware"

CardRunner = Callable[..., "AsRunRecord"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("hil", "hil: lunar lander HIL bench")
    group.addoption(
        "--hil-bench",
        default=None,
        metavar="FILE",
        help=f"bench file or bench name the hil fixtures open (default: ${BENCH_ENV}, "
        f"else {DEFAULT_BENCH_NAME!r}, the simulated bench)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{HARDWARE_MARK}: needs a device on the wire (a real FC, or the simulated FC as a "
        "device of its own); skipped when --hil-bench is a simulated bench",
    )


def pytest_sessionstart(session: pytest.Session) -> None:
    """A bench named by ``--hil-bench`` or ``$HIL_BENCH`` that cannot be loaded stops the run
    before any test, in one line naming the file and key at fault."""
    given = session.config.getoption("--hil-bench") or os.environ.get(BENCH_ENV)
    if not given:
        return
    from hil.core.config import load_bench
    from hil.errors import HilError

    try:
        load_bench(given)
    except HilError as err:
        raise pytest.UsageError(f"--hil-bench {given}: {err}") from None


def bench_file(config: pytest.Config) -> str:
    """What ``--hil-bench`` (or ``$HIL_BENCH``) names: a path or a bench name."""
    given = config.getoption("--hil-bench") or os.environ.get(BENCH_ENV)
    return str(given or DEFAULT_BENCH_NAME)


def private_channel(config: BenchConfig, nodeid: str) -> BenchConfig:
    """``config`` on a python-can virtual channel of the test's own; other interfaces (real
    adapters, a CAN server) are shared by nature and kept as they are."""
    if config.can.interface != "virtual":
        return config
    channel = f"{config.can.channel}-{nodeid}-{time.monotonic_ns()}"
    return dataclasses.replace(config, can=dataclasses.replace(config.can, channel=channel))


@functools.cache
def _wire_roles_of(named: str) -> tuple[str, ...]:
    """``wire_roles`` of the bench ``named``, loaded once per session (the hardware marker and
    parametrizations ask for every test)."""
    from hil.core.config import load_bench

    return tuple(wire_roles(load_bench(named)))


def bench_has_wire_roles(config: pytest.Config) -> bool:
    """The ``--hil-bench`` bench has a device outside this process."""
    return bool(_wire_roles_of(bench_file(config)))


def wire_roles(config: BenchConfig) -> list[str]:
    """The roles of ``config`` served by a device outside this process."""
    from hil.bench.assembly import backend_classes

    return [role for role, cls in backend_classes(config).items() if not cls.simulated]


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker(HARDWARE_MARK) is None:
        return
    named = bench_file(item.config)
    if not bench_has_wire_roles(item.config):
        pytest.skip(
            f"needs a device on the wire; bench {named!r} is simulated (run with --hil-bench FILE)"
        )


@pytest.fixture
def hil_bench_config(request: pytest.FixtureRequest) -> BenchConfig:
    """The ``--hil-bench`` bench's configuration (a private channel on a virtual bus)."""
    from hil.core.config import load_bench

    return private_channel(load_bench(bench_file(request.config)), request.node.nodeid)


@pytest.fixture
def hil_bench(hil_bench_config: BenchConfig) -> Iterator[Bench]:
    """The ``--hil-bench`` bench, opened on the wall clock; closed after the test."""
    from hil.bench import Bench

    with Bench(hil_bench_config) as bench:
        yield bench


@pytest.fixture
def hil_fc(hil_bench: Bench) -> FlightComputer:
    """The opened bench's flight computer driver."""
    return hil_bench.flight_computer


@pytest.fixture
def hil_signals(hil_bench: Bench) -> SignalStore:
    """The opened bench's signal store (every decoded CAN signal, sensor and model value)."""
    return hil_bench.signals


@pytest.fixture
def hil_records(tmp_path: Path) -> Iterator[RecordStore]:
    """A records store of the test's own, in its temporary folder."""
    from hil.records.backends import open_store

    store = open_store(tmp_path / "hil-records")
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def hil_card(hil_bench: Bench, hil_records: RecordStore) -> CardRunner:
    """``hil_card(card, lander=..., operator_id="tech.ci", answers="ci")``: load ``card`` (a
    library card by number or name, or a path), run it on the opened bench with scripted
    answers, record it in ``hil_records`` and return the as-run record."""
    from hil.cards.loader import find_card, load_card
    from hil.cards.operators import ScriptedOperator
    from hil.cards.runner import run_card
    from hil.core.paths import data_path, resolve_named
    from hil.records.recorder import StoreRecorder

    def run(
        card: str | Path,
        *,
        lander: str,
        operator_id: str = "tech.ci",
        answers: str | Path = "ci",
        library: str | Path | None = None,
    ) -> AsRunRecord:
        folder = Path(library) if library is not None else data_path("procedures")
        loaded = load_card(find_card(card, folder), hil_bench.config)
        operator = ScriptedOperator(resolve_named(answers, "answers", ".toml"))
        operator.check(loaded.card)
        return run_card(
            loaded,
            hil_bench,
            operator,
            lander=lander,
            operator_id=operator_id,
            recorder=StoreRecorder(hil_records),
        )

    return run


@pytest.fixture
def hil_sim_config(request: pytest.FixtureRequest) -> BenchConfig:
    """The in-process simulated bench (``sim``) on a channel of the test's own."""
    from hil.core.config import load_bench

    return private_channel(load_bench(DEFAULT_BENCH_NAME), request.node.nodeid)


@pytest.fixture
def hil_sim_bench(hil_sim_config: BenchConfig) -> Iterator[Bench]:
    """The in-process simulated bench, opened on the wall clock."""
    from hil.bench import Bench

    with Bench(hil_sim_config) as bench:
        yield bench


@pytest.fixture(scope="session")
def hil_external_bench_config(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BenchConfig]:
    """The simulated FC as a device of its own (``hil device fc``) and a CAN server on
    loopback, for the whole session; yields the all-``wire`` bench pointed at them. Fails the
    session's last test if the device did not stop cleanly on SIGTERM."""
    from hil.core.config import load_bench
    from hil.drivers.sim.external import ExternalFc

    with ExternalFc(tmp_path_factory.mktemp("hil-external-fc")) as external:
        yield load_bench(external.bench_path)
        status = external.close()
        log = external.device.log_path.read_text()
        assert status == 0, f"hil device fc exited with {status}: {log[-2000:]}"
        assert "stopped:" in log, log[-2000:]
