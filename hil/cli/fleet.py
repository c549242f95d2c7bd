"""``hil fleet``: the maintenance program from the command line.

``add_commands(subparsers)`` adds ``fleet`` to the ``hil`` parser. Handlers raise ``HilError``
(one line on stderr from ``hil.cli.main.main``). The store is the one ``hil records`` uses:
``--store URL`` (a folder, ``sqlite:///DIR`` or ``postgresql://...``), else ``--data DIR``,
else ``$HIL_STORE``, else ``$HIL_DATA``, else ``~/.local/share/hil``; the fleet tables live in
that database next to the records. The signer's secret for ``release`` comes from
``--secret-file``, else ``$HIL_SECRET``, else a prompt.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from hil.cli.defaults import DEFAULT_PROGRAM
from hil.cli.exit_codes import EXIT_FAILED, EXIT_OK
from hil.errors import ConfigError


def add_commands(subparsers: Any) -> None:
    """Add ``fleet`` to the ``hil`` command's subparsers."""
    from hil.cli.help_text import FLEET_EPILOG
    from hil.cli.output import add_json_argument
    from hil.cli.records import _secret_argument
    from hil.cli.store_options import add_store_arguments

    fleet = subparsers.add_parser(
        "fleet",
        help="maintenance program: landers, due items, defects, release to service",
        epilog=FLEET_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmds = fleet.add_subparsers(title="fleet commands", metavar="COMMAND")
    parsers = []

    def command(name: str, help_text: str, handler: Any) -> argparse.ArgumentParser:
        parser = cmds.add_parser(name, help=help_text)
        parser.set_defaults(handler=handler)
        parsers.append(parser)
        return parser

    landers = command("landers", "every lander: counters, due status, release status", _landers)
    add_json_argument(landers)
    add = command("add-lander", "register a lander", _add_lander)
    add.add_argument("serial")
    add.add_argument("--model", required=True)
    add.add_argument("--config", default="baseline", help="configuration (default: baseline)")
    add.add_argument("--in-service", type=_date, required=True, metavar="YYYY-MM-DD")
    add.add_argument(
        "--counter",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="counter at entry, e.g. descents=3 (repeatable)",
    )
    counters = command("counters", "set a lander's counters (never backwards)", _set_counters)
    counters.add_argument("--lander", required=True)
    counters.add_argument("--counter", action="append", required=True, metavar="NAME=VALUE")
    counters.add_argument("--source", default="manual correction", help="why (logged)")

    comp = command("add-component", "register a component by serial", _add_component)
    comp.add_argument("serial")
    comp.add_argument("--part", required=True, help="part number (life limits from the program)")
    comp.add_argument("--name", default=None)
    comp.add_argument(
        "--life",
        action="append",
        default=None,
        metavar="NAME=LIMIT",
        help="life limit, overriding the catalogue (repeatable)",
    )
    comp.add_argument("--since-new", action="append", default=[], metavar="NAME=VALUE")
    comp.add_argument("--manufactured", type=_date, default=None, metavar="YYYY-MM-DD")
    inst = command("install", "install a component on a lander", _install)
    inst.add_argument("serial")
    inst.add_argument("--lander", required=True)
    inst.add_argument("--position", required=True)
    inst.add_argument("--parent", default=None, help="component that holds it")
    inst.add_argument("--reason", default="")
    rem = command("remove", "remove a component (and what it holds) from its lander", _remove)
    rem.add_argument("serial")
    rem.add_argument("--reason", required=True)
    comps = command("components", "components, positions, since-new counters, limits", _components)
    comps.add_argument("--lander", default=None)

    prog = command("load-program", "load the program file (tasks, part catalogue)", _load_program)
    prog.add_argument("path", type=Path, nargs="?", default=DEFAULT_PROGRAM)
    task = command("add-task", "add or replace one program task", _add_task)
    task.add_argument("--card", required=True)
    task.add_argument("--title", required=True)
    task.add_argument("--model", action="append", default=[])
    task.add_argument("--config", action="append", default=[])
    task.add_argument("--threshold", action="append", default=[], metavar="NAME=VALUE")
    task.add_argument("--repeat", action="append", default=[], metavar="NAME=VALUE")
    command("tasks", "the program's tasks", _tasks)

    log = command("log-descent", "add a descent run folder or flight log to the counters", _log)
    log.add_argument("--lander", required=True)
    log.add_argument("path", type=Path, help="run folder of hil descent, or a flight log file")
    command("sync", "complete due items from passed, fully signed card runs", _sync)
    due = command("due", "a lander's due list: OK / DUE SOON / OVERDUE", _due)
    due.add_argument("--lander", required=True)
    add_json_argument(due)

    defect = command("defect", "report a defect on a lander", _defect)
    defect.add_argument("--lander", required=True)
    defect.add_argument("--text", required=True, help="what is wrong")
    defect.add_argument("--component", default=None)
    defect.add_argument("--by", required=True, help="who found it (person id)")
    defect.add_argument(
        "--discovered",
        type=_utc,
        default=None,
        help="discovery time, ISO 8601 with offset (default: now)",
    )
    defects = command("defects", "open and deferred defects", _defects)
    defects.add_argument("--lander", default=None)
    defects.add_argument("--all", action="store_true", help="closed ones too")
    defer = command("defer", "defer an open defect under an MEL category", _defer)
    defer.add_argument("defect_id")
    defer.add_argument("--category", required=True, choices=["A", "B", "C", "D"])
    defer.add_argument("--reason", required=True)
    defer.add_argument("--by", required=True, help="who defers it (person id)")
    defer.add_argument(
        "--days",
        type=int,
        default=None,
        help="calendar limit in days (required for A; at most B 3, C 10, D 120)",
    )
    defer.add_argument("--descents", type=int, default=None, help="descent limit (A only)")
    close = command(
        "close-defect", "close a defect with the corrective action (a signed record)", _close_defect
    )
    close.add_argument("defect_id")
    close.add_argument("--action", required=True, help="the corrective action taken")
    close.add_argument("--by", required=True, help="who took it (person id; signs it 'performed')")
    _secret_argument(close)

    pkg = command("package", "create a work package of due cards and defects", _package)
    pkg.add_argument("--lander", required=True)
    pkg.add_argument("--title", required=True)
    pkg.add_argument("items", nargs="+", help="card numbers and defect ids")
    pkgs = command("packages", "work packages and their items", _packages)
    pkgs.add_argument("--lander", default=None)
    pclose = command("close-package", "close a work package whose items are done", _close_package)
    pclose.add_argument("package_id")

    release = command("release", "release a lander to service (a signed record)", _release)
    release.add_argument("--lander", required=True)
    release.add_argument("--person", required=True, help="certifying person id")
    _secret_argument(release)
    rels = command("releases", "releases to service", _releases)
    rels.add_argument("--lander", default=None)

    for parser in parsers:
        add_store_arguments(parser)


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date") from None


def _utc(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO 8601 time") from None
    if value.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give the UTC offset (e.g. +00:00 or Z)")
    return value


@contextlib.contextmanager
def _fleet(args: argparse.Namespace) -> Iterator[Any]:
    from hil.fleet.service import Fleet
    from hil.records.backends import open_store, store_location

    with open_store(store_location(args.store, args.data)) as store, Fleet(store) as fleet:
        yield fleet


def _counters(items: list[str], where: str) -> Any:
    from hil.fleet.model import Counters, parse_assignments

    return Counters.parse(parse_assignments(items, where), where)


def _limits(items: list[str], where: str) -> dict[str, float]:
    from hil.fleet.model import parse_assignments, parse_limits

    return parse_limits(parse_assignments(items, where), where)


def _table(headers: list[str], rows: list[tuple[Any, ...]], title: str = "") -> None:
    from hil.cli.output import table

    print(table(headers, rows, title=title))


def _landers(args: argparse.Namespace) -> int:
    from hil.cli.documents import due_document
    from hil.fleet.model import fmt
    from hil.fleet.service import release_status

    rows = []
    documents = []
    with _fleet(args) as fleet:
        fleet.sync()
        for lander in fleet.landers():
            items = fleet.due(lander.serial, sync=False)
            worst = items[0] if items else None
            blockers = fleet.release_blockers(lander.serial, sync=False)
            c = lander.counters
            documents.append(
                {
                    "serial": lander.serial,
                    "model": lander.model,
                    "configuration": lander.configuration,
                    "status": lander.status,
                    "in_service": lander.in_service.isoformat(),
                    "days_in_service": lander.days_in_service(fleet.today()),
                    "counters": c.to_dict(),
                    "worst_due": due_document(worst) if worst else None,
                    "release": release_status(lander, blockers),
                    "release_blockers": list(blockers),
                }
            )
            rows.append(
                (
                    lander.serial,
                    lander.model,
                    lander.configuration,
                    c.descents,
                    c.engine_starts,
                    fmt(c.burn_s, "burn_s"),
                    fmt(c.powered_h, "powered_h"),
                    lander.days_in_service(fleet.today()),
                    f"{worst.status} {worst.card_number}" if worst else "-",
                    release_status(lander, blockers),
                )
            )
    if args.json:
        from hil.cli.output import print_json

        print_json({"landers": documents})
        return EXIT_OK
    headers = ["lander", "model", "config", "descents", "starts", "burn s", "powered h", "days"]
    _table([*headers, "worst due", "release"], rows)
    return EXIT_OK


def _add_lander(args: argparse.Namespace) -> int:
    counters = _counters(args.counter, f"lander {args.serial} --counter")
    with _fleet(args) as fleet:
        lander = fleet.add_lander(args.serial, args.model, args.config, args.in_service, counters)
    print(
        f"added lander {lander.serial} ({lander.model}, {lander.configuration}), in service "
        f"{lander.in_service}"
    )
    return EXIT_OK


def _set_counters(args: argparse.Namespace) -> int:
    from hil.fleet.model import COUNTERS, Counters, parse_assignments
    from hil.fleet.service import counters_text

    values = parse_assignments(args.counter, f"lander {args.lander} --counter")
    with _fleet(args) as fleet:
        current = fleet.lander(args.lander).counters.to_dict()
        unknown = sorted(set(values) - set(COUNTERS))
        if unknown:
            raise ConfigError(f"--counter {unknown[0]}: use {', '.join(COUNTERS)}")
        wanted = Counters.parse({**current, **values}, f"lander {args.lander} --counter")
        lander = fleet.set_counters(args.lander, wanted, args.source)
    print(f"lander {lander.serial}: {counters_text(lander.counters)}")
    return EXIT_OK


def _add_component(args: argparse.Namespace) -> int:
    since_new = _counters(args.since_new, f"component {args.serial} --since-new")
    life = _limits(args.life, f"component {args.serial} --life") if args.life else None
    with _fleet(args) as fleet:
        part = fleet.add_component(
            args.serial,
            args.part,
            name=args.name,
            life=life,
            since_new=since_new,
            manufactured=args.manufactured,
        )
    limits = ", ".join(f"{k} {v:g}" for k, v in sorted(part.life.items())) or "none"
    print(f"added component {part.serial} ({part.part_number} {part.name}); life limits: {limits}")
    return EXIT_OK


def _install(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        part = fleet.install(args.serial, args.lander, args.position, args.parent, args.reason)
    inside = f" in {part.parent}" if part.parent else ""
    print(f"installed {part.serial} on lander {part.lander} at {part.position}{inside}")
    return EXIT_OK


def _remove(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        removed = fleet.remove(args.serial, args.reason)
    for part in removed:
        print(f"removed {part.serial} from lander {part.lander} ({part.position})")
    return EXIT_OK


def _components(args: argparse.Namespace) -> int:
    from hil.fleet.model import COUNTERS, fmt

    with _fleet(args) as fleet:
        parts = fleet.components(args.lander)
        today = fleet.today()
    rows = [
        (
            p.serial,
            p.part_number,
            p.name,
            p.lander or "-",
            p.position or "-",
            ", ".join(f"{n} {fmt(p.since_new.get(n), n)}" for n in COUNTERS if p.since_new.get(n)),
            ", ".join(f"{k} {fmt(v, k)}" for k, v in sorted(p.life.items())) or "-",
            "; ".join(p.over_limit(today)) or "ok",
        )
        for p in parts
    ]
    _table(["serial", "part", "name", "lander", "position", "since new", "life", "limits"], rows)
    return EXIT_OK


def _load_program(args: argparse.Namespace) -> int:
    from hil.fleet.program import load_program

    program = load_program(args.path)
    with _fleet(args) as fleet:
        fleet.load_program(program)
    print(f"loaded {program.label}: {len(program.tasks)} tasks, {len(program.parts)} part numbers")
    return EXIT_OK


def _add_task(args: argparse.Namespace) -> int:
    from hil.fleet.model import Task

    threshold = _limits(args.threshold, f"task {args.card} --threshold")
    repeat = _limits(args.repeat, f"task {args.card} --repeat")
    if not threshold and not repeat:
        raise ConfigError(f"task {args.card}: give --threshold or --repeat")
    task = Task(args.card, args.title, tuple(args.model), tuple(args.config), threshold, repeat)
    with _fleet(args) as fleet:
        fleet.add_task(task)
    print(f"task {task.card_number} ({task.title}) stored")
    return EXIT_OK


def _limit_text(limits: dict[str, float]) -> str:
    from hil.fleet.model import fmt

    return ", ".join(f"{k} {fmt(v, k)}" for k, v in sorted(limits.items())) or "-"


def _tasks(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        tasks = fleet.tasks()
    rows = [
        (
            t.card_number,
            t.title,
            ", ".join(t.models + t.configurations) or "all",
            _limit_text(t.threshold),
            _limit_text(t.repeat),
        )
        for t in tasks
    ]
    _table(["card", "title", "applies to", "first due", "repeat (whichever first)"], rows)
    return EXIT_OK


def _log(args: argparse.Namespace) -> int:
    from hil.fleet.service import counters_text
    from hil.fleet.usage import read_usage

    usage = read_usage(args.path)
    with _fleet(args) as fleet:
        lander = fleet.log_usage(args.lander, usage)
        parts = len(fleet.components(args.lander))
    print(f"logged {usage.kind} {usage.source}: +{counters_text(usage.counters)}")
    print(f"lander {lander.serial} now: {counters_text(lander.counters)} ({parts} components)")
    return EXIT_OK


def _sync(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        report = fleet.sync_report()
    for line in report.done:
        print(line)
    if not report.done:
        print("no new card completions")
    for line in report.refused:
        print(line)
    return EXIT_OK


def _due(args: argparse.Namespace) -> int:
    from hil.cli.documents import due_document
    from hil.fleet.service import counters_text

    with _fleet(args) as fleet:
        items = fleet.due(args.lander)
        lander = fleet.lander(args.lander)
        today = fleet.today()
        awaiting = fleet.unsigned_runs(args.lander)
        refused = fleet.refused_runs(args.lander)
    if args.json:
        from hil.cli.output import print_json

        print_json(
            {
                "lander": lander.serial,
                "model": lander.model,
                "configuration": lander.configuration,
                "counters": lander.counters.to_dict(),
                "days_in_service": lander.days_in_service(today),
                "due": [due_document(item) for item in items],
                "awaiting_signature": list(awaiting),
                "refused_runs": list(refused),
            }
        )
        return EXIT_OK
    print(
        f"lander {lander.serial} ({lander.model}, {lander.configuration}): "
        f"{counters_text(lander.counters)}, day {lander.days_in_service(today)} in service"
    )
    rows = [
        (
            i.card_number,
            i.task.title[:44],
            i.status,
            i.describe(),
            i.last.utc[:10] if i.last else "never",
        )
        for i in items
    ]
    _table(["card", "title", "status", "driven by", "last done"], rows)
    if awaiting:
        print("\npassed card runs that complete a due item once signed (hil records sign):")
        for text in awaiting:
            print(f"  - {text}")
    if refused:
        print("\ncard runs not credited (hil records verify RUN says why):")
        for text in refused:
            print(f"  - {text}")
    return EXIT_OK


def _defect(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        defect = fleet.report_defect(
            args.lander,
            args.text,
            args.by,
            component=args.component,
            discovered=args.discovered,
        )
    print(f"defect {defect.defect_id} on lander {defect.lander}: {defect.description}")
    return EXIT_OK


def _defects(args: argparse.Namespace) -> int:
    rows = []
    with _fleet(args) as fleet:
        now = fleet.now()
        for d in fleet.defects(args.lander, include_closed=args.all):
            deferral = fleet.deferral(d.defect_id)
            if deferral is not None and d.status == "deferred":
                left = deferral.days_left(now)
                days = "day" if left == 1 else "days"
                state = f"cat {deferral.category} to {deferral.limit_date} ({left} {days} left)"
            elif d.closure_run_id:
                state = f"{d.closure} [record {d.closure_run_id}]"
            else:
                state = d.closure or "-"
            rows.append(
                (d.defect_id, d.lander, d.status, d.discovered_utc[:16], d.description, state)
            )
    _table(["defect", "lander", "status", "discovered (UTC)", "description", "deferral"], rows)
    return EXIT_OK


def _defer(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        deferral = fleet.defer(
            args.defect_id,
            args.category,
            args.reason,
            args.by,
            days=args.days,
            descents=args.descents,
        )
    cycles = (
        f" or {deferral.limit_descents} descents" if deferral.limit_descents is not None else ""
    )
    print(
        f"deferred {deferral.defect_id} as {deferral.deferral_id}, category {deferral.category}: "
        f"may fly through {deferral.limit_date} UTC{cycles}"
    )
    return EXIT_OK


def _close_defect(args: argparse.Namespace) -> int:
    from hil.cli.records import read_secret

    with _fleet(args) as fleet:
        fleet.defect(args.defect_id)  # an unknown id is named before the secret is asked for
        secret = read_secret(args, f"secret for {args.by}: ")
        defect = fleet.close_defect(args.defect_id, args.action, args.by, secret)
    print(f"closed {defect.defect_id}: {defect.closure} (record {defect.closure_run_id})")
    return EXIT_OK


def _package(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        package = fleet.create_package(args.lander, args.title, args.items)
    print(f"work package {package.package_id} for lander {package.lander}: {package.title}")
    return EXIT_OK


def _packages(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        packages = fleet.packages(args.lander)
    rows = [
        (
            p.package_id,
            p.lander,
            p.title,
            p.status,
            ", ".join(f"{i.item} {'done' if i.done else 'open'}" for i in p.items),
        )
        for p in packages
    ]
    _table(["package", "lander", "title", "status", "items"], rows)
    return EXIT_OK


def _close_package(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        package = fleet.close_package(args.package_id)
    print(f"closed work package {package.package_id} ({package.title})")
    return EXIT_OK


def _release(args: argparse.Namespace) -> int:
    from hil.cli.records import read_secret

    with _fleet(args) as fleet:
        reasons = fleet.release_blockers(args.lander)
        if reasons:
            print(f"release of lander {args.lander} refused:")
            for reason in reasons:
                print(f"  - {reason}")
            return EXIT_FAILED
        secret = read_secret(args, f"secret for {args.person}: ")
        release = fleet.release(args.lander, args.person, secret)
    print(
        f"lander {release.lander} released to service by {release.person_id} at "
        f"{release.released_utc} (record {release.run_id}, {release.release_id})"
    )
    return EXIT_OK


def _releases(args: argparse.Namespace) -> int:
    with _fleet(args) as fleet:
        releases = fleet.releases(args.lander)
    rows = [
        (r.release_id, r.lander, r.released_utc[:19], r.person_id, r.counters.descents, r.run_id)
        for r in releases
    ]
    _table(["release", "lander", "signed (UTC)", "by", "descents", "record"], rows)
    return EXIT_OK
