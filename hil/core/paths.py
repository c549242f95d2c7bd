"""Where the bench's data lives: the folder inside the package, and a lab's bench workspace.

The package carries everything the bench needs to run (``hil/data/``): the ICD's CAN database
(``can/``), bench files (``benches/``), the simulated FC's device file (``devices/``), descent
scenarios (``scenarios/``), terrain profiles (``terrain/``), the fleet maintenance program
(``fleet/``), CI's scripted answers (``answers/``) and the card library (``procedures/``). It
is read through ``importlib.resources``, so an installed wheel finds it as a checkout does.

A bench workspace is a folder with the same layout and a ``hil-workspace.toml`` file, written
by ``hil init DIR`` for a lab to adapt (docs/architecture.md, "Data and workspaces"). The
bench uses it when ``HIL_WORKSPACE`` names it, or when the working folder is inside it; a
file the workspace does not have is taken from the package. Paths inside a bench or scenario
file are relative to that file, never to the working folder.
"""

from __future__ import annotations

import os
import shutil
from datetime import UTC, datetime
from importlib.resources import files
from pathlib import Path

from hil.errors import ConfigError

DATA_DIR = Path(str(files("hil"))) / "data"
"""The data folder inside the installed package (a real folder: the wheel is not zipped)."""

WORKSPACE_FILE = "hil-workspace.toml"
"""The file that marks a folder as a bench workspace."""

WORKSPACE_ENV = "HIL_WORKSPACE"

WORKSPACE_FOLDERS = (
    "answers",
    "benches",
    "can",
    "devices",
    "fleet",
    "procedures",
    "scenarios",
    "terrain",
)
"""What ``hil init`` copies: every data folder, so a lab can change any of it."""


def workspace() -> Path | None:
    """The bench workspace in use: ``$HIL_WORKSPACE``, else the working folder or the nearest
    folder above it holding ``hil-workspace.toml``, else none (the package's data)."""
    named = os.environ.get(WORKSPACE_ENV)
    if named:
        folder = Path(named).expanduser()
        if not (folder / WORKSPACE_FILE).is_file():
            raise ConfigError(
                f"{WORKSPACE_ENV}={named}: no {WORKSPACE_FILE} in that folder "
                f"(make a workspace with `hil init {named}`)"
            )
        return folder.resolve()
    here = Path.cwd()
    for folder in (here, *here.parents):
        if (folder / WORKSPACE_FILE).is_file():
            return folder
    return None


def data_dirs() -> tuple[Path, ...]:
    """Folders searched for data by name, first match wins: the workspace, then the package."""
    found = workspace()
    return (found, DATA_DIR) if found is not None else (DATA_DIR,)


def data_path(*parts: str) -> Path:
    """A data file or folder by its path in the data layout (``"benches", "sim.toml"``): the
    workspace's copy when it has one, else the package's."""
    for folder in data_dirs():
        candidate = folder.joinpath(*parts)
        if candidate.exists():
            return candidate
    return DATA_DIR.joinpath(*parts)


def named_files(folder: str, suffix: str) -> dict[str, Path]:
    """Every ``<name><suffix>`` file in ``folder`` of the workspace and the package, by name;
    the workspace's file wins over the package's of the same name."""
    found: dict[str, Path] = {}
    for root in reversed(data_dirs()):
        for path in sorted((root / folder).glob(f"*{suffix}")):
            found[path.name.removesuffix(suffix)] = path
    return dict(sorted(found.items()))


def resolve_named(name_or_path: str | os.PathLike[str], folder: str, suffix: str) -> Path:
    """A file given by path, or by bare name in ``folder`` of the data layout (``sim`` ->
    ``benches/sim.toml``). A path that does not exist is returned as it is, for the loader to
    name in its error."""
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.exists() or os.sep in text or text.endswith(suffix):
        return path
    return named_files(folder, suffix).get(text, path)


def init_workspace(target: Path) -> list[Path]:
    """Write a bench workspace at ``target``: a copy of every data folder of the package and a
    ``hil-workspace.toml``. Refuses a folder that already holds files, so nothing a lab has
    adapted is overwritten. Returns the folders written."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{target}: not an empty folder; a workspace is written into a new one")
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name in WORKSPACE_FOLDERS:
        shutil.copytree(
            DATA_DIR / name, target / name, ignore=shutil.ignore_patterns("__pycache__")
        )
        written.append(target / name)
    from hil import __version__

    (target / WORKSPACE_FILE).write_text(
        "# A hil bench workspace: the bench's data for this lab to adapt. Commands run in this\n"
        "# folder (or with HIL_WORKSPACE naming it) take benches, cards, scenarios, terrain, the\n"
        "# fleet program and answers from here first, then from the installed package.\n"
        f'created = "{datetime.now(UTC).isoformat(timespec="seconds")}"\n'
        f'hil_version = "{__version__}"\n'
    )
    return written
