"""Backends by name: each device role has a group of entry points, ``hil.backends.<role>``.

The bench configuration names a backend (``backend = "sim"``); this module finds the class
lazily, so a backend whose library is missing only fails when somebody asks for it, and then
with a one-line "not available" message rather than an import traceback.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from hil.errors import BackendNotFound

if TYPE_CHECKING:
    from hil.drivers.roles import Device

GROUP_PREFIX = "hil.backends."


def backend_names(role: str) -> list[str]:
    """Names registered for ``role``, sorted."""
    return sorted(point.name for point in entry_points(group=GROUP_PREFIX + role))


def backend_class(role: str, name: str) -> type[Device]:
    """The class registered as backend ``name`` for ``role``.

    Raises ``BackendNotFound`` listing the registered names, or naming the import failure.
    """
    points = {point.name: point for point in entry_points(group=GROUP_PREFIX + role)}
    if name not in points:
        known = ", ".join(sorted(points)) or "none registered (is hil installed?)"
        raise BackendNotFound(f"unknown backend {name!r} for role {role!r}; available: {known}")
    try:
        loaded = points[name].load()
    except ImportError as err:
        raise BackendNotFound(
            f"backend {name!r} for role {role!r} is not available: {err}"
        ) from err
    backend: type[Device] = loaded
    return backend
