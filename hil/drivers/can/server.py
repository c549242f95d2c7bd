"""A python-can-remote server run by the bench itself (``hil device can-server``): the CAN hub
that the bench and a device in another process (or on another machine) join as
``interface = "remote"``, channel ``ws://HOST:PORT/``.

It is python-can-remote's own server (``python -m can_remote``), run in this process so the
bench can give it what a real-time relay needs (docs/architecture.md, "Stalls of the
real-time processes"):

* frames keep the timestamp their sender gave them (``preserve_timestamps`` on a virtual
  channel): a receiver sees when a frame was sent, not when this relay got round to it;
* its start-up heap leaves the garbage collector's view, and its own CPU affinity and
  real-time policy when asked (``RealtimeOptions``);
* it logs at INFO, not python-can-remote's DEBUG.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from typing import Any

from hil.core.realtime import RealtimeOptions, apply_realtime
from hil.errors import LinkError

__all__ = ["SERVER_REALTIME", "serve_can"]

log = logging.getLogger("hil.device.can_server")

SERVER_REALTIME = RealtimeOptions(gc="gen0", cpus=(), fifo_priority=10)
"""The relay's defaults: as the bench loop's (it carries every frame of the closed loop)."""


def serve_can(
    interface: str,
    channel: str,
    host: str,
    port: int,
    stop: threading.Event,
    realtime: RealtimeOptions = SERVER_REALTIME,
    ready: Callable[[dict[str, str]], None] | None = None,
) -> None:
    """Serve ``interface``/``channel`` on ``ws://host:port/`` until ``stop`` is set.

    Raises ``LinkError`` naming the address when the port cannot be listened on.
    """
    from can_remote.server import RemoteServer

    config: dict[str, Any] = {"interface": interface, "channel": channel}
    if interface == "virtual":
        config["preserve_timestamps"] = True
    try:
        server = RemoteServer(host, port, **config)
    except OSError as err:
        raise LinkError(f"CAN server ws://{host}:{port}/: {err.strerror or err}") from err
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.2}, name="can-server", daemon=True
    )
    try:
        apply_realtime(realtime, "CAN server")
        sys.setswitchinterval(0.0005)  # a relay thread waits at most this for another
        thread.start()
        url = f"ws://{host}:{server.server_port}/"
        log.info("CAN server on %s bridging %s channel %r", url, interface, channel)
        if ready is not None:
            ready({"can": url})
        stop.wait()
        log.info("CAN server stopping")
    finally:
        if thread.ident is not None:  # shutdown() waits for serve_forever to have run
            server.shutdown()
            thread.join(2.0)
        server.server_close()
