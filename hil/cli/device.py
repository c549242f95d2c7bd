"""``hil device fc``: the simulated flight computer as a device of its own; ``hil device
can-server``: the python-can-remote hub a bench and such a device join across processes.

It runs on its wall clock until SIGINT or SIGTERM, logging what it does to stderr, and prints
one line to stdout when it is ready: ``ready {"maintenance": ..., "imu": ..., "can": ...}``
(JSON), saying where a bench finds it, so a script or a test can wait for it. A port or CAN
interface that cannot be opened is one line and exit status 3.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from hil.cli.defaults import DEFAULT_DEVICE, shown
from hil.cli.exit_codes import EXIT_OK


def add_commands(subparsers: Any) -> None:
    """Add ``device fc`` to the ``hil`` command's subparsers."""
    device = subparsers.add_parser("device", help="run a simulated device on its own")
    kinds = device.add_subparsers(title="devices", metavar="DEVICE")
    fc = kinds.add_parser(
        "fc",
        help="the simulated flight computer, standalone on its wall clock",
        description="Run the simulated flight computer as a device of its own: maintenance "
        "port and IMU line on serial (ptys it creates and reports, or given ports), CAN on any "
        "python-can interface. Stops cleanly on SIGINT or SIGTERM.",
        epilog=f"example: hil device fc --config {shown(DEFAULT_DEVICE)}",
    )
    fc.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_DEVICE,
        help=f"device file (default: {shown(DEFAULT_DEVICE)})",
    )
    fc.set_defaults(handler=run_fc)
    server = kinds.add_parser(
        "can-server",
        help="a python-can-remote server (CAN across processes), tuned for real time",
        description="Serve a python-can interface as ws://HOST:PORT/ (python-can-remote's "
        "server, in this process: senders' timestamps kept on a virtual channel, start-up heap "
        "frozen, its own CPU affinity and SCHED_FIFO when asked and permitted). Stops cleanly "
        "on SIGINT or SIGTERM.",
        epilog="example: hil device can-server --interface virtual --channel hil-external "
        "--port 54701",
    )
    server.add_argument("--interface", default="virtual", help="python-can interface")
    server.add_argument("--channel", default="hil-external", help="its channel")
    server.add_argument("--host", default="127.0.0.1", help="address to listen on")
    server.add_argument("--port", type=int, default=54701, help="TCP port (0: any free one)")
    server.add_argument("--gc", default=None, help="freeze, gen0 (default), off or normal")
    server.add_argument(
        "--cpus", default=None, help="CPU numbers it may run on, comma-separated (default: all)"
    )
    server.add_argument(
        "--fifo-priority", type=int, default=None, help="SCHED_FIFO priority, 0: normal"
    )
    server.set_defaults(handler=run_can_server)


def _serve_until_signalled(
    name: str, debug: bool, serve: Callable[[threading.Event], object]
) -> None:
    """Log to stderr, run ``serve(stop)`` with ``stop`` set by SIGINT or SIGTERM."""
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    stop = threading.Event()

    def request_stop(number: int, frame: FrameType | None) -> None:
        logging.getLogger(name).info("%s received", signal.Signals(number).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        serve(stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ready(places: dict[str, str]) -> None:
    sys.stdout.write("ready " + json.dumps(places) + "\n")
    sys.stdout.flush()


def run_can_server(args: argparse.Namespace) -> int:
    from hil.core.config import TomlTable, parse_realtime
    from hil.core.stalls import trace_from_environment
    from hil.drivers.can.server import SERVER_REALTIME, serve_can

    given: dict[str, Any] = {}
    if args.gc is not None:
        given["gc"] = args.gc
    if args.cpus is not None:
        try:
            given["cpus"] = [int(cpu) for cpu in args.cpus.split(",") if cpu.strip()]
        except ValueError:
            given["cpus"] = args.cpus
    if args.fifo_priority is not None:
        given["fifo_priority"] = args.fifo_priority
    realtime = parse_realtime(
        TomlTable(Path("hil device can-server"), "options", given), SERVER_REALTIME
    )
    trace_from_environment("can-server")
    _serve_until_signalled(
        "hil.device.can_server",
        args.debug,
        lambda stop: serve_can(
            args.interface, args.channel, args.host, args.port, stop, realtime, _ready
        ),
    )
    return EXIT_OK


def run_fc(args: argparse.Namespace) -> int:
    from hil.drivers.sim.standalone import load_device, run_device

    config = load_device(args.config)
    # a device logs what it does (the bench's commands log only warnings)
    _serve_until_signalled(
        "hil.device.fc", args.debug, lambda stop: run_device(config, stop, _ready)
    )
    return EXIT_OK
