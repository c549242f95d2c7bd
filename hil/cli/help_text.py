"""What ``hil ... --help`` says beyond the options: examples that name files which exist (built
from the defaults in ``hil.cli.defaults``, never typed in twice), and the scenario list of
``hil descent --help`` / ``hil campaign --help``, read from the scenario folder only when help
is shown (building the parser stays cheap for every other command).
"""

from __future__ import annotations

import argparse
import shutil
import textwrap

from hil.cli.defaults import DEFAULT_ANSWERS, DEFAULT_CARDS, DEFAULT_PROGRAM, shown

SCENARIOS = "{scenarios}"
"""Placeholder in an epilog that ``ScenarioHelpFormatter`` replaces by the scenario list."""

EXAMPLE_CARD = shown(DEFAULT_CARDS / "fc_power_on_bit.py")
"""A library card the examples run."""

EXAMPLE_ANSWERS = shown(DEFAULT_ANSWERS)
"""The scripted answers CI runs the library cards with."""

EXAMPLE_LANDER = "HR-M3-SN002"


def examples(*commands: str, width: int = 78) -> str:
    """An ``examples:`` block for an epilog; a command longer than ``width`` continues on the
    next line (`` \\``) before an option, so it still pastes into a shell."""
    lines = ["examples:"]
    for command in commands:
        line = "  "
        for word in command.replace(" --", "\0--").split("\0"):
            if line.strip() and len(line) + len(word) + 3 > width:
                lines.append(line + " \\")
                line = "      "
            line += ("" if not line.strip() else " ") + word
        lines.append(line)
    return "\n".join(lines)


class ScenarioHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's line breaks, and lists the scenarios where it says ``{scenarios}``."""

    def add_text(self, text: str | None) -> None:
        if text is not None and SCENARIOS in text:
            text = text.replace(SCENARIOS, scenario_list())
        super().add_text(text)


def scenario_list(width: int | None = None) -> str:
    """``scenarios (--scenario NAME):`` and one line per scenario: name and description."""
    from hil.errors import ConfigError
    from hil.flight.scenario import load_scenario, scenario_names

    names = scenario_names()
    if not names:
        return "scenarios: none found (give --scenario a .toml path)"
    columns = width or shutil.get_terminal_size().columns
    name_width = max(len(name) for name in names)
    lines = ["scenarios (--scenario NAME, or a .toml path):"]
    for name in names:
        try:
            description = load_scenario(name).description
        except ConfigError as err:
            description = f"(does not load: {err})"
        lines += textwrap.wrap(
            description,
            width=max(columns - 2, name_width + 24),
            initial_indent=f"  {name:<{name_width}}  ",
            subsequent_indent=" " * (name_width + 4),
            break_on_hyphens=False,
        )
    return "\n".join(lines)


RUN_EPILOG = examples(
    f"hil run LL-31-10-00-740-801 --lander {EXAMPLE_LANDER} --operator tech.ci "
    "--answers ci --junit runs/junit.xml",
    f"hil run fc_power_on_bit --lander {EXAMPLE_LANDER} --operator j.smith --bench external",
    f"hil run {EXAMPLE_CARD} --lander {EXAMPLE_LANDER} --operator tech.ci "
    f"--answers {EXAMPLE_ANSWERS}",
)
CARDS_LIST_EPILOG = examples(
    f"hil cards list --dir {shown(DEFAULT_CARDS)}", "hil cards list --json"
)
BENCH_CHECK_EPILOG = examples(
    "hil bench check --bench sim", "hil bench check --bench external --json"
)
DESCENT_EPILOG = (
    examples(
        "hil descent --scenario nominal --reference apollo11",
        "hil descent --scenario f2-lrf-degraded --seed 3 --realtime --progress",
        f"hil descent --lander {EXAMPLE_LANDER} --bench external --realtime",
    )
    + "\n\n"
    + SCENARIOS
)
CAMPAIGN_EPILOG = (
    examples(
        "hil campaign --scenario nominal --runs 200",
        "hil campaign --scenario f1-crater-rim --runs 20 --full-stack --json",
        "hil campaign --scenario f2-lrf-degraded --seed 3 --rerun 17",
    )
    + "\n\n"
    + SCENARIOS
)
FLEET_EPILOG = examples(
    f"hil fleet load-program {shown(DEFAULT_PROGRAM)}",
    "hil fleet landers --json",
    f"hil fleet due --lander {EXAMPLE_LANDER} --json",
)
RECORDS_EPILOG = examples("hil records list --json", "hil records show RUN_ID --json")
