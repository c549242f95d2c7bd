"""hil: a hardware-in-the-loop test bench for lunar lander avionics.

The public face of the package is small on purpose: configuration, the exception tree and
the bench assembly. Everything else is reached through its own module.
"""

from __future__ import annotations

from hil.errors import (
    BackendNotFound,
    ConfigError,
    DeviceTimeout,
    FrameError,
    HilError,
    LinkError,
    ProtocolError,
)

__version__ = "0.2.0"

__all__ = [
    "BackendNotFound",
    "ConfigError",
    "DeviceTimeout",
    "FrameError",
    "HilError",
    "LinkError",
    "ProtocolError",
    "__version__",
]
