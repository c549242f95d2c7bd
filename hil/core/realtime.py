"""What a real-time process asks of the platform: the garbage collector's mode, CPU affinity and
the ``SCHED_FIFO`` policy, as one ``[realtime]`` table of a bench or device file::

    [realtime]
    gc = "freeze"          # "freeze" (default): the start-up heap leaves the collector's view;
                           # "gen0": frozen, and only the youngest generation is collected;
                           # "off": frozen, and the collector off while the loop runs;
                           # "normal": Python's default
    cpus = [0]             # CPU numbers the process may run on (default: all)
    fifo_priority = 10     # SCHED_FIFO priority 1-99, 0 for the normal policy (default 0)

``hil.core.config.parse_realtime`` reads the table strictly (one line naming file, table
and key for a bad value); ``apply_realtime`` applies it to the calling process and says, one
line each, what it got. A platform that refuses affinity or the real-time policy (no root,
no ``CAP_SYS_NICE``, not Linux) is logged and skipped: the run goes on without.
docs/architecture.md ("Stalls of the real-time processes") says which of these helped.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

__all__ = [
    "GC_MODES",
    "RealtimeOptions",
    "apply_gc",
    "apply_realtime",
    "apply_scheduling",
    "restore_gc",
    "save_scheduling",
]

log = logging.getLogger("hil.realtime")

GC_MODES = ("freeze", "gen0", "off", "normal")
GEN0_ONLY_THRESHOLDS = (700, 1_000_000, 1_000_000)
"""``gc.set_threshold``: generation 0 as by default, the older two practically never (a 0
would collect them at every young collection; only generation 0's 0 means never). Cyclic
garbage that survives a young collection then stays until the loop ends."""


@dataclass(frozen=True)
class RealtimeOptions:
    """See the module docstring. ``cpus`` empty: every CPU; ``fifo_priority`` 0: normal."""

    gc: str = "freeze"
    cpus: tuple[int, ...] = ()
    fifo_priority: int = 0


def apply_realtime(options: RealtimeOptions, who: str, threads: bool = True) -> list[str]:
    """Apply ``options`` to this process: affinity and policy (to every thread of the
    process when ``threads``, else to the calling thread and those it starts later), then the
    collector (``apply_gc``). Returns what it got, one line each, also logged on
    ``hil.realtime``. Call once start-up is done: the heap that exists then is frozen."""
    return apply_scheduling(options, who, threads) + apply_gc(options, who)


def apply_scheduling(options: RealtimeOptions, who: str, threads: bool = True) -> list[str]:
    """CPU affinity and ``SCHED_FIFO`` of ``options`` (see ``apply_realtime``); a platform
    that refuses is one line saying so, and the process goes on without."""
    ids: list[int] = [0]
    if threads:
        me = threading.get_native_id()
        for thread in threading.enumerate():
            if thread.native_id is not None and thread.native_id != me:
                ids.append(thread.native_id)
    got = []
    if options.cpus:
        try:
            for tid in ids:
                os.sched_setaffinity(tid, options.cpus)
            got.append(f"{who}: CPU affinity {list(options.cpus)}")
        except (AttributeError, OSError) as err:
            got.append(f"{who}: CPU affinity {list(options.cpus)} not permitted ({err})")
    if options.fifo_priority:
        try:
            for tid in ids:
                os.sched_setscheduler(
                    tid or 0, os.SCHED_FIFO, os.sched_param(options.fifo_priority)
                )
            got.append(f"{who}: SCHED_FIFO {options.fifo_priority}")
        except (AttributeError, OSError) as err:
            got.append(f"{who}: SCHED_FIFO {options.fifo_priority} not permitted ({err})")
    for line in got:
        (log.warning if "not permitted" in line else log.info)("%s", line)
    return got


def apply_gc(options: RealtimeOptions, who: str) -> list[str]:
    """The collector's mode of ``options``: the heap that exists now is frozen out of its
    view, then only generation 0 is collected (``gen0``) or none (``off``)."""
    if options.gc != "normal":
        gc.collect()
        gc.freeze()
        if options.gc == "gen0":
            gc.set_threshold(*GEN0_ONLY_THRESHOLDS)
        elif options.gc == "off":
            gc.disable()
    line = f"{who}: garbage collector {options.gc}"
    log.info("%s", line)
    return [line]


def restore_gc(options: RealtimeOptions, thresholds: tuple[int, int, int], enabled: bool) -> None:
    """Undo ``apply_realtime``'s collector settings (a bench loop that ends; the process
    goes on)."""
    if options.gc == "normal":
        return
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    if enabled:
        gc.enable()


def save_scheduling() -> Callable[[], None]:
    """The affinity and policy of every thread of this process now; call the result to put
    them back (threads gone meanwhile are skipped)."""
    saved = []
    for thread in threading.enumerate():
        tid = thread.native_id
        if tid is None:
            continue
        try:
            saved.append(
                (tid, os.sched_getaffinity(tid), os.sched_getscheduler(tid), os.sched_getparam(tid))
            )
        except (AttributeError, OSError):
            continue

    def restore() -> None:
        for tid, cpus, policy, param in saved:
            try:
                os.sched_setscheduler(tid, policy, param)
                os.sched_setaffinity(tid, cpus)
            except OSError:
                continue

    return restore
