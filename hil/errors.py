"""The one exception tree of the bench.

::

    HilError                          anything the bench raises on purpose
    +-- ConfigError (ValueError)      a bench, scenario or card file is wrong; names file,
    |                                 table and key
    |   +-- BackendNotFound (LookupError)
    |   |                             a role names a backend nobody registered; lists
    |   |                             those that exist
    |   +-- CardError                 a card or its answers file is wrong; starts with file:line
    |                                 (hil.cards.model)
    +-- LinkError (OSError)           a port or CAN interface cannot be opened or has gone away
    +-- DeviceTimeout (TimeoutError)  a device did not answer in time
    +-- ProtocolError                 a device answered, but not as the protocol says
    |                                 ($ERR, a bad reply)
    +-- FrameError (ValueError)       one received frame is malformed (checksum, COBS, length);
    |                                 links count these and carry on, they never stop reception
    +-- Cancelled                     the operator cancelled what was running; not a fault
    |   +-- OperatorCancelled         a card's open question was cancelled (hil.services.operator)
    |   +-- JobStopped                the operator stopped a descent (hil.services.descent_hook)
    +-- SessionBusy                   the GUI session already runs a job (hil.services.session)
    +-- RecordError                   as-run records (hil.records.errors)
    |   +-- StorageError (OSError)    the store cannot be opened, read or written
    |   +-- UnknownRecord (LookupError)
    |   |                             no run, person or attachment by that id
    |   +-- AuthenticationError (PermissionError)
    |   |                             wrong secret, locked or revoked identity
    |   +-- SignoffRefused            a signature the sign-off rules do not allow
    +-- FleetError                    the fleet maintenance program (hil.fleet.errors)
        +-- UnknownSerial (LookupError) no lander, component, defect, task or package by that id
        +-- CounterError (ValueError) a usage counter would go backwards or is not a number
        +-- DuplicateUsage            the same descent run or flight log added twice
        +-- DeferralRefused           a defect the MEL does not allow to defer
        +-- ReleaseRefused            a release to service with open items

Leaf errors also inherit the builtin they refine, so ``except TimeoutError`` works as expected.
Foreign exceptions (pyserial, python-can, tomllib) are re-raised ``from`` the original.
"""

from __future__ import annotations


class HilError(Exception):
    """Base of every error the bench raises on purpose."""


class ConfigError(HilError, ValueError):
    """A configuration file is wrong. The message names the file, the table and the key."""


class BackendNotFound(ConfigError, LookupError):
    """A role asks for a backend that is not registered."""


class LinkError(HilError, OSError):
    """A serial port or CAN interface cannot be opened, or failed while in use."""


class DeviceTimeout(HilError, TimeoutError):
    """A device did not answer within its timeout."""


class ProtocolError(HilError):
    """A device answered in a way the protocol does not allow (an $ERR reply, a bad field)."""


class FrameError(HilError, ValueError):
    """One received frame is malformed. Counted by the link; never fatal to reception."""


class Cancelled(HilError):
    """The operator cancelled what was running (a closed dialog, a stopped job): not a fault
    of the bench or its configuration."""
