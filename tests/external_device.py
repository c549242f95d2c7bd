"""The simulated FC as a device of its own, for tests: a python-can-remote server and
``hil device fc`` in processes of their own, on loopback, and a bench file pointing at them.

``external_bench`` (session scope) starts both, waits for the device's ``ready`` line, and
yields the bench configuration (every role ``wire``, like ``fixtures/benches/external.toml``
but on a free port and private pty links). At the end it stops the device with SIGTERM and
fails the session if the device did not shut down cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hil.core.config import BenchConfig, load_bench

ROOT = Path(__file__).resolve().parent.parent
STARTUP_S = 60.0
"""How long the device may take to come up (numba kernels load or compile on first start)."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout_s: float) -> None:
    deadline_s = time.monotonic() + timeout_s
    while time.monotonic() < deadline_s:
        if process.poll() is not None:
            raise RuntimeError(f"CAN server exited with {process.returncode} before listening")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"CAN server did not listen on 127.0.0.1:{port} in {timeout_s:g} s")


def start_can_server(port: int, log_path: Path) -> subprocess.Popen[bytes]:
    """python-can-remote's server bridging a virtual channel, on loopback only."""
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "can_remote",
                "--interface",
                "virtual",
                "--channel",
                f"hil-external-{port}",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    wait_for_port(port, server, 20.0)
    return server


def write_device_file(folder: Path, port: int) -> Path:
    path = folder / "fc.toml"
    path.write_text(
        f"""[device]
serial_number = "SIM-FC-EXT1"
[can]
interface = "remote"
channel = "ws://127.0.0.1:{port}/"
bitrate = 1000000
[maintenance]
url = "pty"
link = "{folder / "maintenance"}"
[imu]
url = "pty"
link = "{folder / "imu"}"
"""
    )
    return path


def write_bench_file(folder: Path, port: int) -> Path:
    text = (ROOT / "fixtures" / "benches" / "external.toml").read_text()
    text = text.replace("ws://127.0.0.1:54701/", f"ws://127.0.0.1:{port}/")
    text = text.replace("/tmp/hil-fc/maintenance", str(folder / "maintenance"))
    text = text.replace("/tmp/hil-fc/imu", str(folder / "imu"))
    text = text.replace('"../can/lander.dbc"', f'"{ROOT / "fixtures" / "can" / "lander.dbc"}"')
    path = folder / "external.toml"
    path.write_text(text)
    return path


class ExternalDevice:
    """A running ``hil device fc`` process and what it reported when ready."""

    def __init__(self, device_file: Path, log_path: Path) -> None:
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "hil.cli.main", "device", "fc", "--config", str(device_file)],
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=ROOT,
        )
        self.places = self._wait_ready()

    def _wait_ready(self) -> dict[str, str]:
        assert self.process.stdout is not None
        deadline_s = time.monotonic() + STARTUP_S
        os.set_blocking(self.process.stdout.fileno(), False)
        buffer = b""
        while time.monotonic() < deadline_s:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"hil device fc exited with {self.process.returncode}: "
                    + self.log_path.read_text()[-2000:]
                )
            chunk = self.process.stdout.read()
            if chunk:
                buffer += chunk
                for line in buffer.decode(errors="replace").splitlines():
                    if line.startswith("ready "):
                        places: dict[str, str] = json.loads(line[len("ready ") :])
                        return places
            time.sleep(0.05)
        raise RuntimeError(f"hil device fc not ready in {STARTUP_S:g} s")

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGTERM, then the exit status (killed and -9 if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self._log.close()
        return self.process.returncode


def main_module_available() -> bool:
    try:
        import can_remote  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.fixture(scope="session")
def external_bench(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BenchConfig]:
    """A bench of wire drivers against the simulated FC running in a process of its own."""
    if not main_module_available():
        pytest.fail("python-can-remote is not installed (pip install -e '.[test]')")
    folder = tmp_path_factory.mktemp("external-fc")
    port = free_port()
    server = start_can_server(port, folder / "can-server.log")
    device: ExternalDevice | None = None
    try:
        device = ExternalDevice(write_device_file(folder, port), folder / "device.log")
        yield load_bench(write_bench_file(folder, port))
        status = device.stop()
        log = device.log_path.read_text()
        assert status == 0, f"hil device fc exited with {status}: {log[-2000:]}"
        assert "stopped:" in log, log[-2000:]
    finally:
        if device is not None:
            device.stop()
        server.terminate()
        server.wait(10)
