"""The ``hil`` command: the bench's front door for engineers, technicians and CI.

Every subcommand turns a ``HilError`` into one line on stderr naming the file, port or device
at fault, and a non-zero exit status; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from hil import __version__
from hil.cli.defaults import DEFAULT_BENCH, shown
from hil.cli.exit_codes import (
    EPILOG,
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INTERNAL,
    EXIT_INTERRUPTED,
    EXIT_LINK,
    EXIT_OK,
    exit_status,
)
from hil.core.paths import WORKSPACE_FILE, init_workspace, workspace
from hil.errors import HilError

if TYPE_CHECKING:
    from hil.flight.descent import DescentResult
    from hil.flight.reference import Reference
    from hil.flight.scenario import Scenario


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.debug else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return EXIT_CONFIG
    try:
        workspace()  # a bad $HIL_WORKSPACE is one line here, before any command runs
        return handler(args)
    except KeyboardInterrupt:
        print("hil: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except HilError as err:
        if args.debug:
            raise
        print(f"hil: {err}", file=sys.stderr)
        return exit_status(err)
    except BrokenPipeError:  # the reader went away (``hil records list | head``): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as err:  # a bug: one line and its own status, never a FAIL
        if args.debug:
            raise
        logging.getLogger("hil").debug("internal error", exc_info=True)
        where = _where(err)
        print(
            f"hil: internal error: {type(err).__name__}: {err}{where} "
            "(run again with --debug for the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


def _where(err: BaseException) -> str:
    """`` at FILE:LINE`` of the innermost frame of ``err``'s traceback ("" without one)."""
    tb = err.__traceback__
    if tb is None:
        return ""
    while tb.tb_next is not None:
        tb = tb.tb_next
    return f" at {tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"


def _parser() -> argparse.ArgumentParser:
    from hil.cli.help_text import BENCH_CHECK_EPILOG, DESCENT_EPILOG, ScenarioHelpFormatter
    from hil.cli.output import add_json_argument
    from hil.cli.progress import add_progress_argument
    from hil.cli.store_options import add_store_arguments

    parser = argparse.ArgumentParser(
        prog="hil",
        description="Hardware-in-the-loop test bench for lunar lander avionics.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hil {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    from hil.cli.cards import add_commands as add_card_commands

    add_card_commands(commands)
    from hil.cli.records import add_commands as add_record_commands

    add_record_commands(commands)
    from hil.cli.fleet import add_commands as add_fleet_commands

    add_fleet_commands(commands)
    from hil.cli.gui import add_commands as add_gui_commands

    add_gui_commands(commands)
    from hil.cli.device import add_commands as add_device_commands

    add_device_commands(commands)

    bench = commands.add_parser("bench", help="bench configuration and health")
    bench_commands = bench.add_subparsers(title="bench commands", metavar="COMMAND")
    check = bench_commands.add_parser(
        "check",
        help="open every device, ping the FC, run BIT, show link statistics",
        epilog=BENCH_CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _bench_argument(check)
    add_json_argument(check)
    check.set_defaults(handler=_bench_check)
    latency = bench_commands.add_parser(
        "latency",
        help="the loop's transport delay: an IMU step until the FC's first command that reacts",
        description="Arms the FC in its imu_echo test mode, steps the IMU specific force and "
        "times the first ACS_Cmd that reacts, over the real links and in real time; prints "
        "p50/p99/max of the total, the bench's share and the FC's share. Leaves the FC SAFE.",
    )
    _bench_argument(latency)
    latency.add_argument("--trials", type=int, default=30, help="sensor steps (default 30)")
    latency.set_defaults(handler=_bench_latency)

    descent = commands.add_parser(
        "descent",
        help="fly a closed-loop powered descent against the flight computer",
        epilog=DESCENT_EPILOG,
        formatter_class=ScenarioHelpFormatter,
    )
    _bench_argument(descent)
    descent.add_argument("--scenario", default="nominal", help="scenario name or .toml path")
    pace = descent.add_mutually_exclusive_group()
    pace.add_argument("--realtime", action="store_true", help="run on the wall clock")
    pace.add_argument(
        "--fast", action="store_true", help="lockstep, as fast as possible (the default)"
    )
    descent.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    descent.add_argument(
        "--out", type=Path, default=None, help="output folder (default runs/descent-...)"
    )
    descent.add_argument(
        "--lander",
        default=None,
        metavar="SERIAL",
        help="log the flight to this lander's counters in the fleet store (checked before flying)",
    )
    descent.add_argument(
        "--reference",
        default=None,
        metavar="NAME",
        help="after the verdict, compare the descent with a published one: reference name "
        "(apollo11) or .toml path; a figure outside its tolerance fails the command",
    )
    add_store_arguments(descent)
    add_progress_argument(descent)
    descent.set_defaults(handler=_descent)

    from hil.cli.campaign import add_commands as add_campaign_commands

    add_campaign_commands(commands)

    init = commands.add_parser(
        "init",
        help="write a bench workspace (benches, cards, program...) for a lab to adapt",
        description="Copies the bench files, the CAN database, the simulated FC's device file, "
        "the scenarios and terrain, the fleet program, the scripted answers and the card "
        f"library into FOLDER and marks it with {WORKSPACE_FILE}. Commands run inside FOLDER, "
        "or with HIL_WORKSPACE=FOLDER, take their files from there first.",
        epilog="example: hil init my-bench && cd my-bench && hil bench check --bench sim",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    init.add_argument("folder", type=Path, help="a new (or empty) folder")
    init.set_defaults(handler=_init)

    backends = bench_commands.add_parser("backends", help="list the registered backends")
    backends.set_defaults(handler=_bench_backends)
    return parser


def _bench_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--bench",
        type=Path,
        default=DEFAULT_BENCH,
        help=f"bench file, or a bench by name, e.g. sim (default: {shown(DEFAULT_BENCH)})",
    )


def _init(args: argparse.Namespace) -> int:
    written = init_workspace(args.folder)
    print(f"bench workspace written to {args.folder}:")
    for folder in written:
        files = sum(1 for path in folder.rglob("*") if path.is_file())
        print(f"  {folder.name + '/':<12} {files} file(s)")
    print(
        f"\ncommands run inside {args.folder} (or with HIL_WORKSPACE={args.folder}) use it; "
        "edit benches/*.toml to point at your hardware"
    )
    return EXIT_OK


def _bench_backends(args: argparse.Namespace) -> int:
    from hil.cli.output import table
    from hil.core.config import ROLES
    from hil.drivers.registry import backend_names

    print(table(["role", "backends"], [(role, ", ".join(backend_names(role))) for role in ROLES]))
    return EXIT_OK


def _bench_check(args: argparse.Namespace) -> int:
    from hil.bench import Bench
    from hil.bench.check import run_check
    from hil.cli.output import table
    from hil.core.config import load_bench
    from hil.drivers.can import STATS_COLUMNS

    config = load_bench(args.bench)
    if not args.json:
        print(f"bench {config.name}: {config.description}")
    with Bench(config) as bench:
        result = run_check(bench)
    if args.json:
        from hil.cli.documents import bench_check_document
        from hil.cli.output import print_json

        print_json(bench_check_document(config, result))
        return EXIT_OK if result.ok else EXIT_FAILED
    print()
    print(table(["role", "backend", "driver", "link"], result.devices, title="Devices"))
    print()
    ping = "no answer" if result.ping_s is None else f"{result.ping_s * 1000:.1f} ms"
    print(f"FC PING round trip: {ping}")
    if result.fc_status:
        print("FC STATUS: " + " ".join(f"{k}={v}" for k, v in result.fc_status.items()))
    if result.bit is not None:
        rows = [(item, "PASS" if ok else "FAIL") for item, ok in result.bit.items.items()]
        print()
        print(table(["BIT item", "result"], rows, title="Built-in test"))
    print()
    print(
        table(
            list(STATS_COLUMNS),
            result.can_rows,
            title="CAN link (bench node)",
        )
    )
    print()
    print(table(["device", "counter", "value"], result.serial_rows, title="Device links"))
    print()
    for note in result.notes:
        print(f"note: {note}")
    if result.ok:
        print("bench check: PASS")
        return EXIT_OK
    print("bench check: FAIL")
    for problem in result.problems:
        print(f"  - {problem}")
    return EXIT_FAILED


def _bench_latency(args: argparse.Namespace) -> int:
    from hil.bench import Bench
    from hil.bench.latency import measure_latency
    from hil.cli.output import table
    from hil.core.config import load_bench
    from hil.errors import ConfigError

    if args.trials < 1:
        raise ConfigError(f"--trials: at least 1, not {args.trials}")
    config = load_bench(args.bench)
    print(f"bench {config.name}: {args.trials} IMU steps through the FC, real time")
    with Bench(config) as bench:
        report = measure_latency(bench, trials=args.trials)
    rows = [
        (name, f"{p50:.2f}", f"{p99:.2f}", f"{top:.2f}") for name, p50, p99, top in report.rows()
    ]
    print(table(["from the IMU step", "p50 ms", "p99 ms", "max ms"], rows, title="Loop latency"))
    print(f"trials: {len(report.trials)} measured, {report.lost} without a reaction in 1 s")
    return EXIT_OK if report.trials and not report.lost else EXIT_FAILED


def _descent(args: argparse.Namespace) -> int:
    import time

    from hil.cli.output import table
    from hil.cli.progress import DescentProgress, progress_wanted
    from hil.core.config import load_bench
    from hil.flight.descent import fly
    from hil.flight.scenario import load_scenario

    config = load_bench(args.bench)
    scenario = load_scenario(args.scenario)
    reference = None
    if args.reference is not None:  # an unknown reference is refused before the flight
        from hil.flight.reference import load_reference

        reference = load_reference(args.reference)
    if args.lander is not None:
        _check_lander(args)  # an unknown lander is refused before a 10-minute flight
    out = args.out or Path("runs") / (
        f"descent-{scenario.name}-seed{args.seed}-{time.strftime('%Y%m%d-%H%M%S')}"
    )
    mode = "real time" if args.realtime else "lockstep"
    print(f"descent: scenario {scenario.name} ({scenario.description}), seed {args.seed}, {mode}")
    shown = progress_wanted(args.progress)
    # the bar runs to the flight time the scenario is expected to take, not to the time cap
    expected_s = scenario.nominal_flight_s(args.seed) if shown else scenario.model.max_duration_s
    progress = DescentProgress(expected_s, enabled=shown)
    try:
        result = fly(
            config, scenario, seed=args.seed, realtime=args.realtime, out_dir=out, progress=progress
        )
    finally:
        progress.close()
    print()
    print(
        table(
            ["t (s)", "event"], [(f"{t:8.2f}", text) for t, text in result.events], title="Timeline"
        )
    )
    if result.checks:
        print()
        rows = [
            (
                c.quantity,
                f"{c.value:.2f} {c.unit}",
                c.limit + " " + c.unit,
                "PASS" if c.passed else "FAIL",
            )
            for c in result.checks
        ]
        print(table(["touchdown", "value", "limit", "result"], rows, title="Touchdown report"))
    if result.timing:
        t = result.timing
        print()
        print(
            f"simulated {t['simulated_s']:.1f} s in {t['wall_s']:.1f} s wall "
            f"({t['real_time_factor']:.1f}x real time)"
            + (
                f"; lateness p50 {t['lateness_p50_ms']:.3f} ms, p99 {t['lateness_p99_ms']:.3f} ms, "
                f"max {t['lateness_max_ms']:.2f} ms, overruns {t['overruns']:.0f}"
                if args.realtime
                else ""
            )
        )
    print(f"outputs: {out}/ ({', '.join(result.files.values())})")
    print()
    print(result.verdict)
    if result.link_error is not None:
        print(f"hil: {result.link_error}", file=sys.stderr)
        return EXIT_LINK
    matched = True
    if reference is not None:
        matched = _reference_check(reference, result, scenario)
    if args.lander is not None:
        _log_flight(args, out)
    return EXIT_OK if result.passed and matched else EXIT_FAILED


def _reference_check(reference: Reference, result: DescentResult, scenario: Scenario) -> bool:
    """Print the descent beside ``reference``; True when every figure is within tolerance."""
    from hil.cli.output import table
    from hil.flight.reference import compare, from_descent, rows_text

    rows = compare(reference, from_descent(result, scenario))
    print()
    print(
        table(
            ["figure", reference.name, "bench", "off by", "tolerance", "result"],
            rows_text(rows),
            title=f"Reference check: {reference.title}",
        )
    )
    missed = [row.label for row in rows if not row.passed]
    print(
        f"reference {reference.name}: "
        + (f"MISS ({', '.join(missed)})" if missed else f"all {len(rows)} figures within tolerance")
    )
    return not missed


def _check_lander(args: argparse.Namespace) -> None:
    """Raise ``UnknownSerial`` (one line) if ``--lander`` is not in the fleet store."""
    from hil.fleet.service import Fleet
    from hil.records.backends import open_store, store_location

    with open_store(store_location(args.store, args.data)) as store, Fleet(store) as fleet:
        fleet.lander(args.lander)


def _log_flight(args: argparse.Namespace, out: Path) -> None:
    """Add the flight in run folder ``out`` to ``--lander``'s counters, or say why not.

    A flight that never started adds nothing. Errors are raised after the outputs are
    written, so the flight can be logged later with ``hil fleet log-descent``.
    """
    from hil.fleet.service import Fleet, counters_text
    from hil.fleet.usage import read_usage
    from hil.records.backends import open_store, store_location

    try:
        usage = read_usage(out)
        with open_store(store_location(args.store, args.data)) as store, Fleet(store) as fleet:
            lander = fleet.log_usage(args.lander, usage)
    except HilError as err:
        # same error class (and exit code), with what to do about it
        raise type(err)(
            f"{err} (the flight was not logged to {args.lander}; once fixed: "
            f"hil fleet log-descent --lander {args.lander} {out})"
        ) from None
    print(f"logged to lander {lander.serial}: +{counters_text(usage.counters)}")
    print(f"lander {lander.serial} now: {counters_text(lander.counters)}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
