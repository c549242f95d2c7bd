"""Loading card modules: import a ``procedures/*.py`` file, find its ``CARD``, bind the content
hash, and check it against the bench — all before any step runs.

Every load error is a ``CardError`` that starts with ``file:line``: a syntax error, an import
error, a missing ``CARD``, any error the model raises (unknown step kind, limit without unit,
duplicate step number, bad card number, unknown role), or a role the bench does not have.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from hil.cards.model import Card, CardError, display_path
from hil.core.config import BenchConfig


@dataclass(frozen=True)
class LoadedCard:
    """A card bound to the exact bytes it was loaded from."""

    card: Card
    path: Path
    sha256: str
    """SHA-256 of the card file and of the helper modules it imports from its own folder
    (``procedures/_common.py``): the content hash a run binds to."""
    helpers: tuple[Path, ...] = ()
    """The card folder's modules the card imports, covered by the hash."""

    @property
    def source(self) -> str:
        return display_path(self.path)

    @property
    def short_hash(self) -> str:
        return self.sha256[:12]


def load_card(path: str | Path, bench_config: BenchConfig | None = None) -> LoadedCard:
    """Import the card module at ``path``; check the card's roles against ``bench_config``.

    Raises ``CardError`` naming file and line.
    """
    path = Path(path)
    shown = display_path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError as err:
        raise CardError(f"{shown}: card file not found") from err
    except OSError as err:
        raise CardError(f"{shown}: cannot read card file: {err}") from err
    module = _import(path, shown, data)
    helpers = _local_imports(path, data)
    digest = _content_hash(data, helpers)
    card = getattr(module, "CARD", None)
    if card is None:
        raise CardError(f"{shown}:1: defines no module-level CARD = Card(...)")
    if not isinstance(card, Card):
        raise CardError(f"{shown}:1: CARD is a {type(card).__name__}, not hil.cards.Card")
    if bench_config is not None:
        for role in card.roles:
            if role not in bench_config.devices:
                raise CardError(
                    f"{card.source}: card {card.number}: role {role!r} is not on bench "
                    f"{bench_config.name} ({bench_config.path})"
                )
    return LoadedCard(card, path.resolve(), digest, helpers)


def _local_imports(path: Path, data: bytes) -> tuple[Path, ...]:
    """Modules of the card's own folder that the card imports (``from procedures._common
    import x``, ``from ._common import x``), and those they import in turn, so that a change
    to any of them changes the hash."""
    folder = path.resolve().parent
    found: set[Path] = set()
    queue = [data]
    while queue:
        for node in ast.walk(ast.parse(queue.pop())):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module if node.level == 0 else f"{folder.name}.{node.module}"]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            for name in names:
                package, _, module = name.partition(".")
                candidate = folder / f"{module.split('.')[0]}.py"
                new = candidate not in found and candidate != path.resolve()
                if package == folder.name and module and new and candidate.is_file():
                    found.add(candidate)
                    queue.append(candidate.read_bytes())
    return tuple(sorted(found))


def _content_hash(data: bytes, helpers: tuple[Path, ...]) -> str:
    digest = hashlib.sha256(data)
    for helper in helpers:
        digest.update(b"\0" + helper.name.encode() + b"\0" + helper.read_bytes())
    return digest.hexdigest()


def _import(path: Path, shown: str, data: bytes) -> object:
    """Execute the card module from ``data`` under a name of its own."""
    try:
        code = compile(data, str(path), "exec")
    except SyntaxError as err:
        line = err.lineno or 0
        raise CardError(f"{shown}:{line}: syntax error: {err.msg}") from None
    folder = path.resolve().parent
    # ``from procedures._common import x`` and ``from ._common import x`` work in a card
    # module when the folder above the card folder is importable.
    root = str(folder.parent)
    if root not in sys.path:
        sys.path.append(root)
    package = folder.name if folder.name.isidentifier() else ""
    name = f"{package}.{path.stem}" if package else f"hil_card_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:  # pragma: no cover - a .py path always has a spec
        raise CardError(f"{shown}:1: cannot import")
    module = importlib.util.module_from_spec(spec)
    module.__package__ = package
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except CardError:
        _restore(name, previous)
        raise
    except Exception as err:
        _restore(name, previous)
        line = _line_in(err, path)
        raise CardError(f"{shown}:{line}: cannot load card: {type(err).__name__}: {err}") from err
    return module


def _restore(name: str, previous: object) -> None:
    if previous is None:
        sys.modules.pop(name, None)
    else:
        sys.modules[name] = previous  # type: ignore[assignment]


def _line_in(err: BaseException, path: Path) -> int:
    """The last line of ``path`` in the traceback of ``err`` (0 when it is not there)."""
    line = 0
    for frame in traceback.extract_tb(err.__traceback__):
        try:
            same = Path(frame.filename).resolve() == path.resolve()
        except OSError:
            same = False
        if same and frame.lineno is not None:
            line = frame.lineno
    return line


def card_files(folder: str | Path) -> list[Path]:
    """The card modules in ``folder``: ``*.py`` files not starting with ``_``, sorted."""
    return sorted(p for p in Path(folder).glob("*.py") if not p.name.startswith("_"))


def find_card(card: str | Path, folder: str | Path) -> Path:
    """A card given by path, or from the library ``folder`` by card number
    (``31-60-00-760-801``) or file name (``loop_latency``). Raises ``CardError`` listing the
    library's cards when nothing matches."""
    path = Path(card)
    if path.is_file() or path.suffix == ".py" or len(path.parts) > 1:
        return path
    text = str(card)
    files = card_files(folder)
    for candidate in files:
        if candidate.stem == text:
            return candidate
    numbers = []
    for candidate in files:
        number = load_card(candidate).card.number
        if text in (number, number.partition("-")[2]):  # LL-31-... or 31-...
            return candidate
        numbers.append(f"{number} ({candidate.stem})")
    raise CardError(
        f"{text}: no such card file, and no card of that number or name in "
        f"{display_path(Path(folder))}; cards: {', '.join(numbers)}"
    )
