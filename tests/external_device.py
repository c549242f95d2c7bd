"""The simulated FC in a process of its own for the test session (``external_bench``).

The processes are started by ``hil.drivers.sim.external``; this fixture yields the bench
configuration (every role ``wire``) and, at the end of the session, fails it if the device
did not shut down cleanly on SIGTERM.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from hil.core.config import BenchConfig, load_bench
from hil.drivers.sim.external import ExternalFc


@pytest.fixture(scope="session")
def external_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchConfig]:
    """A bench of wire drivers against the simulated FC running in a process of its own."""
    with ExternalFc(tmp_path_factory.mktemp("external-fc")) as external:
        yield load_bench(external.bench_path)
        status = external.close()
        log = external.device.log_path.read_text()
        assert status == 0, f"hil device fc exited with {status}: {log[-2000:]}"
        assert "stopped:" in log, log[-2000:]
