"""A closed-loop powered descent flown over the bench's links, split by concern:

* :mod:`~hil.flight.descent.run` — ``DescentRun``: flies an opened bench (lockstep or real
  time) through the executive's tasks; ``descent_bench``/``fly`` open one for a bench file;
* :mod:`~hil.flight.descent.plant` — truth dynamics and sensor models of the run;
* :mod:`~hil.flight.descent.conductor` — the test conductor: uplink, BIT, ARM, PDI;
* :mod:`~hil.flight.descent.recorder` — the flight recorder and the files a run writes;
* :mod:`~hil.flight.descent.result` — findings, touchdown checks, the verdict.
"""

from __future__ import annotations

from hil.flight.descent.plant import BLOCK_S, Plant
from hil.flight.descent.recorder import RECORD_COLUMNS
from hil.flight.descent.result import Contact, DescentResult, Finding
from hil.flight.descent.run import DescentRun, descent_bench, fly
from hil.flight.touchdown import TouchdownCheck

__all__ = [
    "BLOCK_S",
    "RECORD_COLUMNS",
    "Contact",
    "DescentResult",
    "DescentRun",
    "Finding",
    "Plant",
    "TouchdownCheck",
    "descent_bench",
    "fly",
]
