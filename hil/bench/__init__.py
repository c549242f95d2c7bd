"""The bench assembled from its configuration (``Bench``) and its self-check.

:mod:`~hil.bench.assembly` turns a bench file into opened links and devices;
:mod:`~hil.bench.check` is the Qt-free service behind ``hil bench check``.
"""

from __future__ import annotations

from hil.bench.assembly import Bench

__all__ = ["Bench"]
