"""The simulated FC as a device of its own, run from Python: a CAN server (``hil device
can-server``, python-can-remote's) and ``hil device fc`` in processes of their own, on
loopback, and a bench file pointing at them.

Tests (``tests/external_device.py``) and benchmarks (``benchmarks/bench_realtime.py``) use
this to put the flight computer outside the bench's process, as a hardware FC is.
``ExternalFc`` starts both, waits for the device's ``ready`` line and gives the bench file;
closing it stops the device with SIGTERM (and says whether it shut down cleanly).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from hil.protocol.icd import ICD_DATABASE

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


def start_can_server(
    port: int, log_path: Path, options: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """``hil device can-server`` (python-can-remote's server) bridging a virtual channel, on
    loopback only; ``options`` are more of its command-line options (``--cpus 0``...)."""
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "hil.cli.main",
                "device",
                "can-server",
                *options,
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


def write_device_file(
    folder: Path, port: int, processing_delay_s: float = 0.0, realtime: str = ""
) -> Path:
    """A device file for ``hil device fc``: CAN through the server on ``port``, ptys linked
    into ``folder``; ``realtime`` is the body of its ``[realtime]`` table (TOML lines)."""
    path = folder / "fc.toml"
    path.write_text(
        f"""[device]
serial_number = "SIM-FC-EXT1"
processing_delay_s = {processing_delay_s!r}
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
        + (f"[realtime]\n{realtime}\n" if realtime else "")
    )
    return path


def write_bench_file(
    folder: Path, port: int, database: Path | None = None, realtime: str = ""
) -> Path:
    """A bench of wire drivers pointed at the device of ``write_device_file``; ``realtime``
    is the body of its ``[realtime]`` table (TOML lines)."""
    path = folder / "external.toml"
    path.write_text(
        f"""[bench]
name = "external"
description = "Simulated FC in its own process: CAN over python-can-remote, serial over ptys"
[can]
interface = "remote"
channel = "ws://127.0.0.1:{port}/"
bitrate = 1000000
database = "{database or ICD_DATABASE}"
[devices.flight_computer]
backend = "wire"
[devices.flight_computer.serial]
url = "{folder / "maintenance"}"
baudrate = 115200
[devices.imu]
backend = "wire"
[devices.imu.serial]
url = "{folder / "imu"}"
baudrate = 921600
[devices.range_finder]
backend = "wire"
[devices.velocimeter]
backend = "wire"
[devices.engine]
backend = "wire"
"""
        + (f"[realtime]\n{realtime}\n" if realtime else "")
    )
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
        self.process.kill()
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


class ExternalFc:
    """A CAN server and an FC device, both on loopback, for one bench file (``bench_path``).
    A context manager; ``close`` returns the device's exit status and keeps its log."""

    def __init__(
        self,
        folder: Path,
        processing_delay_s: float = 0.0,
        device_realtime: str = "",
        server_options: Sequence[str] = (),
        bench_realtime: str = "",
    ) -> None:
        """``device_realtime``, ``bench_realtime``: the ``[realtime]`` lines of the device and
        bench files; ``server_options``: more command-line options of the CAN server
        (defaults: theirs)."""
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.port = free_port()
        self.server = start_can_server(self.port, folder / "can-server.log", server_options)
        try:
            self.device = ExternalDevice(
                write_device_file(folder, self.port, processing_delay_s, device_realtime),
                folder / "device.log",
            )
        except BaseException:
            self.server.terminate()
            self.server.wait(10)
            raise
        self.bench_path = write_bench_file(folder, self.port, realtime=bench_realtime)
        self.exit_status: int | None = None

    def close(self) -> int:
        if self.exit_status is None:
            self.exit_status = self.device.stop()
            self.server.terminate()
            self.server.wait(10)
        return self.exit_status

    def __enter__(self) -> ExternalFc:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
