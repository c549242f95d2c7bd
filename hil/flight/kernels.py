"""The compiled kernels a flight needs, compiled or loaded before the clock starts."""

from __future__ import annotations

from hil.core.compiled import warm_up

__all__ = ["warm_up"]
