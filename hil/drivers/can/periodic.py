"""Periodic CAN transmissions: the handle ``CanLink.start_periodic`` returns.

A ``PeriodicSend`` runs one python-can ``send_periodic`` task whose modifier callback fills
every frame just before it goes out (the link gives it fresh values, the next Counter and the
CRC). An interface whose own periodic sends would not call the modifier (python-can-remote)
gets python-can's thread-based task instead. When filling a frame raises, the error is
reported once and the task stops; ``stop`` returns only once no further frame will be sent.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from types import TracebackType

import can

__all__ = ["PeriodicSend"]

_SEND_LOCKS: weakref.WeakKeyDictionary[can.BusABC, threading.Lock] = weakref.WeakKeyDictionary()


def _send_lock(bus: can.BusABC) -> threading.Lock:
    """One lock per bus for the periodic-send threads on it (as python-can keeps)."""
    return _SEND_LOCKS.setdefault(bus, threading.Lock())


class PeriodicSend:
    """Handle of a periodic transmission started by ``CanLink.start_periodic``."""

    def __init__(
        self,
        message: str,
        period_s: float,
        on_stop: Callable[[PeriodicSend], None] | None = None,
    ) -> None:
        """``on_stop(handle)`` is called by ``stop`` once the task has ended (the link
        forgets the handle)."""
        self.message = message
        self.period_s = period_s
        self._on_stop = on_stop
        self._task: can.broadcastmanager.CyclicSendTaskABC | None = None
        self._stopped = False

    @property
    def stopped(self) -> bool:
        """True once ``stop`` was called or a signal provider raised."""
        return self._stopped

    def stop(self) -> None:
        """Stop sending. Returns once no further frame will be sent; calling twice is harmless."""
        self._halt()
        self._join()
        if self._on_stop is not None:
            self._on_stop(self)

    def _prepare(
        self,
        bus: can.BusABC,
        template: can.Message,
        fill: Callable[[can.Message], None],
        on_failure: Callable[[Exception], None],
    ) -> None:
        """Create the (not yet started) task sending ``template`` on ``bus``: ``fill(frame)``
        sets each frame's data and timestamp; ``on_failure(err)`` is called once when a
        frame cannot be sent (then the task stops)."""
        message = self.message

        def modify(frame: can.Message) -> None:
            if self._stopped:
                raise RuntimeError(f"periodic {message} stopped")  # ends the task's thread
            fill(frame)

        def on_task_error(err: Exception) -> bool:
            if not self._stopped:
                on_failure(err)
                self._stopped = True
            return False  # stop the task

        task: can.broadcastmanager.CyclicSendTaskABC
        if type(bus).__module__.startswith("can.interfaces."):
            # python-can's own interfaces call the modifier for every frame (those with
            # periodic sends in hardware fall back to a thread when given one)
            task = bus.send_periodic(
                template, self.period_s, autostart=False, modifier_callback=modify
            )
        else:
            # A plug-in interface may run periodic sends itself and never call the modifier
            # (python-can-remote repeats the template on its server: every frame would carry
            # the template's Counter and CRC), so python-can's thread sends these.
            task = can.broadcastmanager.ThreadBasedCyclicSendTask(
                bus,
                _send_lock(bus),
                template,
                self.period_s,
                autostart=False,
                modifier_callback=modify,
            )
        if hasattr(task, "on_error"):
            task.on_error = on_task_error
        self._task = task

    def _start(self) -> None:
        """Start the task ``_prepare`` created."""
        task = self._task
        if isinstance(task, can.RestartableCyclicTaskABC):
            task.start()

    def _halt(self) -> None:
        self._stopped = True
        if self._task is not None:
            self._task.stop()

    def _join(self) -> None:
        task, self._task = self._task, None
        thread = getattr(task, "thread", None)
        if isinstance(thread, threading.Thread) and thread is not threading.current_thread():
            thread.join(timeout=self.period_s + 1.0)

    def __enter__(self) -> PeriodicSend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
