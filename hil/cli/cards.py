"""``hil run`` and ``hil cards list``: running one card at the bench, listing the card library.

``hil.cli.main`` calls ``add_commands(subparsers)`` while building its parser. Handlers follow its
conventions: a ``HilError`` propagates to ``hil.cli.main.main`` (one line, exit 2 for configuration
and card errors, 3 for links), a run exits 0 only when the card PASSes, 1 otherwise.
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path
from typing import IO, TYPE_CHECKING

from hil.cards.record import AsRunRecord, AttemptRecord, TeardownRecord
from hil.cards.runner import RunListener
from hil.cli.defaults import DEFAULT_BENCH, DEFAULT_CARDS, answers_file, shown

if TYPE_CHECKING:
    from hil.cards.loader import LoadedCard
    from hil.cards.model import Step

DEFAULT_OUT = Path("runs/cards")


def add_commands(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``run`` and ``cards list`` to the ``hil`` command's subparsers."""
    from hil.cli.help_text import CARDS_LIST_EPILOG, EXAMPLE_CARD, RUN_EPILOG
    from hil.cli.output import add_json_argument
    from hil.cli.store_options import add_store_arguments

    run = subparsers.add_parser(
        "run",
        help="run a test card on the bench",
        epilog=RUN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument(
        "card",
        type=Path,
        help=f"card module, e.g. {EXAMPLE_CARD}, or a card of the library by number or "
        "name, e.g. LL-31-60-00-760-801 or loop_latency",
    )
    run.add_argument(
        "--bench",
        type=Path,
        default=DEFAULT_BENCH,
        help=f"bench file, or a bench by name, e.g. sim (default: {shown(DEFAULT_BENCH)})",
    )
    run.add_argument(
        "--cards",
        type=Path,
        default=DEFAULT_CARDS,
        help=f"card library a card number is looked up in (default: {shown(DEFAULT_CARDS)})",
    )
    run.add_argument("--lander", required=True, help="lander serial, e.g. HR-M3-SN002")
    run.add_argument("--operator", required=True, help="operator identity, e.g. tech.ci")
    run.add_argument(
        "--answers",
        type=answers_file,
        default=None,
        help="scripted answers (TOML file, or by name, e.g. ci) instead of asking",
    )
    run.add_argument("--junit", type=Path, default=None, help="also write JUnit XML here")
    add_store_arguments(
        run,
        data_help="records data directory: every event is written there, durable, as it "
        "happens (default: $HIL_DATA or ~/.local/share/hil)",
    )
    run.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"record folder (default: {DEFAULT_OUT})"
    )
    run.add_argument(
        "--pause-on-failure",
        action="store_true",
        help="after a failed attempt ask the operator: retry, continue or abort",
    )
    run.set_defaults(handler=run_command)

    cards = subparsers.add_parser("cards", help="the test-card library")
    cards_commands = cards.add_subparsers(title="cards commands", metavar="COMMAND")
    listing = cards_commands.add_parser(
        "list",
        help="number, title, revision, hash, interval",
        epilog=CARDS_LIST_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    listing.add_argument(
        "--dir",
        type=Path,
        default=DEFAULT_CARDS,
        help=f"card folder (default: {shown(DEFAULT_CARDS)})",
    )
    add_json_argument(listing)
    listing.set_defaults(handler=list_command)


class TableListener(RunListener):
    """Prints the card header and one line per step attempt as it completes."""

    def __init__(self, out: IO[str] | None = None) -> None:
        self.out = out or sys.stdout
        self.record: AsRunRecord | None = None

    def _say(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def card_started(self, record: AsRunRecord) -> None:
        self.record = record
        self._say(f"{'step':>4}  {'kind':<11}  {'text':<44}  {'value / limits':<36}  outcome")

    def attempt_started(self, step: Step, attempt: int) -> None: ...

    def attempt_finished(self, entry: AttemptRecord) -> None:
        number = f"{entry.step}" + (f".{entry.attempt}" if entry.attempt > 1 else "")
        text = _fit(entry.text, 44)
        result = _fit(entry.result_text(), 36)
        self._say(f"{number:>4}  {entry.kind:<11}  {text:<44}  {result:<36}  {entry.outcome}")
        if entry.error and not entry.outcome.passed:
            self._say(f"{'':>4}  {'':<11}  ! {entry.error}")

    def logged(self, step: Step | None, text: str) -> None:
        where = f"step {step.number}" if step is not None else "teardown"
        self._say(f"{'':>4}  {where:<11}  {text}")

    def teardown_finished(self, teardown: TeardownRecord) -> None:
        error = f": {teardown.error}" if teardown.error else ""
        self._say(f"teardown: {teardown.outcome}{error}")

    def finished(self, record: AsRunRecord) -> None:
        self.record = record


def _fit(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "~"


def _header(loaded: LoadedCard, out: IO[str]) -> None:
    card = loaded.card
    lines = [
        f"{card.number} rev {card.revision}: {card.title}",
        f"  file {loaded.source}  sha256 {loaded.short_hash}",
        f"  effectivity {', '.join(card.effectivity)}; interval {card.interval or '-'}",
    ]
    if card.equipment:
        lines.append(f"  equipment: {'; '.join(card.equipment)}")
    for label, items in (("WARNING", card.warnings), ("CAUTION", card.cautions)):
        for item in items:
            lines.append(
                textwrap.fill(item, 96, initial_indent=f"  {label}: ", subsequent_indent="    ")
            )
    for item in card.notes:
        lines.append(textwrap.fill(item, 96, initial_indent="  NOTE: ", subsequent_indent="    "))
    out.write("\n".join(lines) + "\n\n")


def run_command(args: argparse.Namespace) -> int:
    """``hil run``: load (nothing runs on a load error), open the bench, run, write records.

    With ``--junit`` a JUnit file is written whatever happens: the run's steps, or one
    ``<error>`` testcase naming what stopped the run before it started (a bench file not
    found, a card that does not load, a link refused)."""
    from hil.cards.record import junit_for_error
    from hil.errors import HilError

    progress = _RunProgress()
    try:
        return _run(args, progress)
    except (HilError, KeyboardInterrupt) as err:
        if args.junit is not None and not progress.junit_written:
            message = str(err) or type(err).__name__
            junit_for_error(args.junit, progress.stage, message, type(err).__name__, "hil.run")
        raise


class _RunProgress:
    """How far ``hil run`` got: the stage it is in and whether its JUnit file is written."""

    def __init__(self) -> None:
        self.stage = "load the bench configuration"
        self.junit_written = False


def _run(args: argparse.Namespace, progress: _RunProgress) -> int:
    from hil.cards.loader import find_card, load_card
    from hil.cards.operators import ConsoleOperator, Operator, ScriptedOperator
    from hil.cards.runner import bench_for, run_card
    from hil.cli.exit_codes import EXIT_FAILED, EXIT_OK
    from hil.core.config import load_bench
    from hil.records.backends import open_store, store_location
    from hil.records.recorder import StoreRecorder

    config = load_bench(args.bench)
    progress.stage = f"load card {args.card}"
    loaded = load_card(find_card(args.card, args.cards), config)
    card = loaded.card
    card.require_effective(args.lander)
    operator: Operator
    if args.answers is not None:
        progress.stage = f"read the answers {args.answers}"
        scripted = ScriptedOperator(args.answers)
        scripted.check(card)
        operator = scripted
    else:
        operator = ConsoleOperator()
    out = sys.stdout
    _header(loaded, out)
    listener = TableListener(out)
    progress.stage = "open the records store"
    store = open_store(store_location(args.store, args.data))
    recorder = StoreRecorder(store)
    progress.stage = f"open bench {config.name} for card {card.number}"
    try:
        with bench_for(card, config) as bench:
            progress.stage = f"run card {card.number}"
            run_card(
                loaded,
                bench,
                operator,
                lander=args.lander,
                operator_id=args.operator,
                listener=listener,
                recorder=recorder,
                pause_on_failure=args.pause_on_failure,
            )
    finally:
        store.close()
        if recorder.run_id is not None:
            out.write(f"\nrecords store: {store.location} run {recorder.run_id}\n")
        record = listener.record
        if record is not None and record.finished_utc is not None:
            path = record.save(Path(args.out) / record.default_name())
            out.write(f"\nrecord: {path}\n")
            if args.junit is not None:
                out.write(f"junit: {record.to_junit(args.junit)}\n")
                progress.junit_written = True
    assert record is not None
    out.write("\n" + record.summary() + "\n")
    return EXIT_OK if record.outcome.value == "PASS" else EXIT_FAILED


def list_command(args: argparse.Namespace) -> int:
    """``hil cards list``: every card in the folder; load errors on stderr (exit 2)."""
    from hil.cards.loader import card_files, load_card
    from hil.cli.exit_codes import EXIT_CONFIG, EXIT_OK
    from hil.cli.output import table
    from hil.errors import ConfigError

    folder = Path(args.dir)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: card folder not found")
    cards = []
    errors = []
    for path in card_files(folder):
        try:
            loaded = load_card(path)
        except ConfigError as err:
            print(f"hil: {err}", file=sys.stderr)
            errors.append(str(err))
            continue
        card = loaded.card
        cards.append((card.number, card.title, card.revision, loaded, path))
    cards.sort(key=lambda item: item[:3])
    if args.json:
        from hil.cli.output import print_json

        print_json(
            {
                "folder": str(folder),
                "cards": [
                    {
                        "number": number,
                        "title": title,
                        "revision": revision,
                        "sha256": loaded.sha256,
                        "interval": loaded.card.interval,
                        "effectivity": list(loaded.card.effectivity),
                        "file": str(path),
                    }
                    for number, title, revision, loaded, path in cards
                ],
                "errors": errors,
            }
        )
        return EXIT_CONFIG if errors else EXIT_OK
    rows = [
        (number, title, revision, loaded.short_hash, loaded.card.interval, path.name)
        for number, title, revision, loaded, path in cards
    ]
    print(
        table(
            ["number", "title", "rev", "hash", "interval", "file"],
            rows,
            title=f"Test cards in {folder}",
        )
    )
    return EXIT_CONFIG if errors else EXIT_OK
