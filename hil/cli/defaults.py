"""Where the ``hil`` commands look when not told: the bench, the card library, the fleet
program and the simulated FC's device file of the bench workspace in use, else those the
package carries (``hil.core.paths``). A bench, scenario or answers file may also be named by
its bare name (``sim``, ``nominal``, ``ci``)."""

from __future__ import annotations

from pathlib import Path

from hil.core.paths import DATA_DIR, data_path, resolve_named
from hil.errors import ConfigError


def _default(*parts: str) -> Path:
    try:
        return data_path(*parts)
    except ConfigError:  # a bad $HIL_WORKSPACE is reported by ``hil.cli.main.main``
        return DATA_DIR.joinpath(*parts)


DEFAULT_BENCH = _default("benches", "sim.toml")
DEFAULT_CARDS = _default("procedures")
DEFAULT_PROGRAM = _default("fleet", "program.toml")
DEFAULT_DEVICE = _default("devices", "fc.toml")
DEFAULT_ANSWERS = _default("answers", "ci.toml")


def answers_file(text: str) -> Path:
    """``--answers``: a scripted answers file by path, or by name in ``answers/``."""
    return resolve_named(text, "answers", ".toml")


def shown(path: Path) -> str:
    """A default path as help text shows it: relative to the working folder when inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
