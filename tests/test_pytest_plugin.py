"""hil's pytest plugin as a lab uses it: the example bench tests run from a folder of their own
(no conftest of this project), on the simulated bench and against the simulated FC as a device
of its own, and a bench that cannot be found is one clear line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

from conftest import ROOT

from hil.core.config import BenchConfig

EXAMPLE = ROOT / "examples" / "test_bench_example.py"


def _pytest(folder: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run pytest on a copy of the example in ``folder``; outcomes by test name."""
    shutil.copy(EXAMPLE, folder / EXAMPLE.name)
    junit = folder / "junit.xml"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", EXAMPLE.name,
         f"--junitxml={junit}", *args],
        cwd=folder, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    outcomes: dict[str, str] = {}
    if junit.exists():
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
            outcomes[case.get("name", "")] = kinds[0] if kinds else "passed"
    return result, outcomes


def test_the_example_passes_on_the_simulated_bench_and_skips_the_hardware_test(
    tmp_path: Path,
) -> None:
    result, outcomes = _pytest(tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    hardware = "test_the_fc_keeps_its_parameters_across_a_reconnect"
    assert outcomes.pop(hardware) == "skipped"
    assert len(outcomes) == 4 and set(outcomes.values()) == {"passed"}, outcomes
    assert "bench 'sim' is simulated" in result.stdout


def test_the_example_runs_every_test_against_the_fc_outside_the_process(
    tmp_path: Path, hil_external_bench_config: BenchConfig
) -> None:
    result, outcomes = _pytest(tmp_path, "--hil-bench", str(hil_external_bench_config.path))
    assert result.returncode == 0, result.stdout[-3000:]
    assert len(outcomes) == 5 and set(outcomes.values()) == {"passed"}, outcomes


def test_a_bench_that_does_not_exist_is_named(tmp_path: Path) -> None:
    result, outcomes = _pytest(tmp_path, "--hil-bench", "no-such-bench")
    assert result.returncode == 4  # pytest's usage error: no test ran
    (line,) = [line for line in result.stderr.splitlines() if "no-such-bench" in line]
    assert "bench file not found" in line or "not found" in line, result.stderr
    assert not outcomes
