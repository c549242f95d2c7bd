"""Flight-software modes, guidance phases and the mode machine (vectorised over N runs).

The numeric values are part of the interface: the CAN database (FC_Heartbeat mode,
FC_Nav guidance phase) uses them.

Transitions (anything not listed leaves the mode unchanged)::

    STANDBY --ARM--> ARMED --START--> BRAKING --HIGH_GATE--> APPROACH --LOW_GATE--> TERMINAL
    BRAKING/APPROACH/TERMINAL --TOUCHDOWN--> LANDED
    STANDBY --BIT--> BIT --BIT_DONE--> STANDBY
    ARMED/BRAKING/APPROACH/TERMINAL --FAULT--> ABORT
    any --SAFE--> SAFE;  SAFE --STANDBY--> STANDBY
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np
from numpy.typing import NDArray

IntArray = NDArray[np.int8]
BoolArray = NDArray[np.bool_]


class Mode(IntEnum):
    """Flight-computer mode (FC_Heartbeat)."""

    SAFE = 0
    STANDBY = 1
    BIT = 2
    ARMED = 3
    BRAKING = 4
    APPROACH = 5
    TERMINAL = 6
    LANDED = 7
    ABORT = 8


class Phase(IntEnum):
    """Guidance phase (FC_Nav)."""

    IDLE = 0
    BRAKING = 1
    APPROACH = 2
    TERMINAL = 3
    LANDED = 4


class Event(IntEnum):
    """Inputs to the mode machine."""

    ARM = 0
    START = 1
    HIGH_GATE = 2
    LOW_GATE = 3
    TOUCHDOWN = 4
    FAULT = 5
    SAFE = 6
    STANDBY = 7
    BIT = 8
    BIT_DONE = 9


_TRANSITIONS: dict[tuple[Mode, Event], Mode] = {
    (Mode.STANDBY, Event.ARM): Mode.ARMED,
    (Mode.ARMED, Event.START): Mode.BRAKING,
    (Mode.BRAKING, Event.HIGH_GATE): Mode.APPROACH,
    (Mode.APPROACH, Event.LOW_GATE): Mode.TERMINAL,
    (Mode.BRAKING, Event.TOUCHDOWN): Mode.LANDED,
    (Mode.APPROACH, Event.TOUCHDOWN): Mode.LANDED,
    (Mode.TERMINAL, Event.TOUCHDOWN): Mode.LANDED,
    (Mode.STANDBY, Event.BIT): Mode.BIT,
    (Mode.BIT, Event.BIT_DONE): Mode.STANDBY,
    (Mode.SAFE, Event.STANDBY): Mode.STANDBY,
    **{
        (m, Event.FAULT): Mode.ABORT
        for m in (Mode.ARMED, Mode.BRAKING, Mode.APPROACH, Mode.TERMINAL)
    },
    **{(m, Event.SAFE): Mode.SAFE for m in Mode},
}

#: TABLE[mode, event] -> next mode (unchanged where the transition is not allowed).
TABLE = np.array([[_TRANSITIONS.get((m, e), m) for e in Event] for m in Mode], dtype=np.int8)
TABLE.setflags(write=False)

#: Guidance phase belonging to each mode.
PHASE_OF_MODE = np.array(
    [
        Phase.IDLE,  # SAFE
        Phase.IDLE,  # STANDBY
        Phase.IDLE,  # BIT
        Phase.IDLE,  # ARMED
        Phase.BRAKING,
        Phase.APPROACH,
        Phase.TERMINAL,
        Phase.LANDED,
        Phase.IDLE,  # ABORT
    ],
    dtype=np.int8,
)
PHASE_OF_MODE.setflags(write=False)

#: Modes in which the engine is armed / may fire.
ARMED_MODES = np.zeros(len(Mode), dtype=bool)
ARMED_MODES[[Mode.ARMED, Mode.BRAKING, Mode.APPROACH, Mode.TERMINAL]] = True
FIRING_MODES = np.zeros(len(Mode), dtype=bool)
FIRING_MODES[[Mode.BRAKING, Mode.APPROACH, Mode.TERMINAL]] = True


def next_mode(mode: IntArray, event: Event, where: BoolArray | None = None) -> IntArray:
    """Apply ``event`` to the runs selected by ``where`` (all if None); returns new modes."""
    moved = TABLE[mode, int(event)]
    if where is None:
        return moved
    return np.where(where, moved, mode).astype(np.int8)
