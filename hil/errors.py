"""The one exception tree of the bench.

::

    HilError                      anything the bench raises on purpose
    +-- ConfigError (ValueError)  a bench, scenario or card file is wrong; names file, table, key
    +-- BackendNotFound (ConfigError, LookupError)
    |                             a role names a backend nobody registered; lists those that exist
    +-- LinkError (OSError)       a port or CAN interface cannot be opened or has gone away
    +-- DeviceTimeout (TimeoutError)
    |                             a device did not answer in time
    +-- ProtocolError             a device answered, but not as the protocol says ($ERR, bad reply)
    +-- FrameError (ValueError)   one received frame is malformed (checksum, COBS, length);
                                  links count these and carry on, they never stop reception

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
