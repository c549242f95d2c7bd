"""``hil device fc``: the simulated flight computer as a device of its own.

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


def run_fc(args: argparse.Namespace) -> int:
    from hil.drivers.sim.standalone import load_device, run_device

    config = load_device(args.config)
    # a device logs what it does (the bench's commands log only warnings)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    stop = threading.Event()

    def request_stop(number: int, frame: FrameType | None) -> None:
        logging.getLogger("hil.device.fc").info("%s received", signal.Signals(number).name)
        stop.set()

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}

    def ready(places: dict[str, str]) -> None:
        sys.stdout.write("ready " + json.dumps(places) + "\n")
        sys.stdout.flush()

    try:
        run_device(config, stop, ready)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return EXIT_OK
