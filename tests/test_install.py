"""The bench as a new user gets it: the built wheel (not this checkout) carries every data file,
runs its main commands from an empty folder, and a bench workspace made by ``hil init`` is what
the commands use when run inside it or pointed at with ``HIL_WORKSPACE``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT

from hil.core.paths import DATA_DIR, WORKSPACE_FILE

NOT_SOURCES = (".git", ".venv", "runs", "artifacts", "build", "dist", "*.egg-info", "__pycache__",
               ".mypy_cache", ".ruff_cache", ".hypothesis", ".pytest_cache")  # fmt: skip


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The package built as a wheel and installed (no dependencies) into a folder of its own."""
    folder = tmp_path_factory.mktemp("wheel")
    # A copy of the sources: building in the checkout would leave build/ in it.
    source = folder / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", str(folder / "dist"), str(source)],
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    (wheel,) = (folder / "dist").glob("hil-*.whl")
    site = folder / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True, timeout=600)  # fmt: skip
    yield site


def hil(
    cwd: Path, *args: str, site: Path | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HIL_DATA": str(cwd / "data")}
    environment.pop("HIL_WORKSPACE", None)
    environment.update(env)
    if site is not None:
        environment["PYTHONPATH"] = str(site)
    return subprocess.run([sys.executable, "-m", "hil.cli.main", *args], cwd=cwd, env=environment,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


def assert_checked(check: subprocess.CompletedProcess[str], bench: str) -> None:
    """``hil bench check`` opened ``bench`` and judged it. Its verdict on the simulated bench
    includes link timing (a periodic frame silent for 16 periods counts as lost), which a
    loaded CI machine may upset; what these tests check is which bench was found."""
    assert check.returncode in (0, 1), check.stderr
    assert check.stdout.startswith(bench), check.stdout
    assert "bench check: PASS" in check.stdout or "bench check: FAIL" in check.stdout


def test_the_wheel_carries_every_data_file(installed: Path) -> None:
    def files(root: Path) -> set[str]:
        return {
            str(path.relative_to(root))
            for path in root.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        }

    shipped = files(installed / "hil" / "data")
    assert shipped == files(DATA_DIR)
    assert {"can/lander.dbc", "benches/sim.toml", "procedures/_common.py"} <= shipped
    assert (installed / "hil" / "py.typed").is_file()


def test_the_installed_bench_runs_from_an_empty_folder(installed: Path, tmp_path: Path) -> None:
    where = subprocess.run(
        [sys.executable, "-c", "import hil; print(hil.__file__)"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(installed)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert where.stdout.startswith(str(installed)), where.stdout

    check = hil(tmp_path, "bench", "check", site=installed)
    assert_checked(check, "bench sim:")

    listing = hil(tmp_path, "cards", "list", site=installed)
    assert listing.returncode == 0, listing.stderr
    assert "LL-31-10-00-740-801" in listing.stdout and str(installed) in listing.stdout

    card = hil(tmp_path, "run", "31-10-00-740-801", "--lander", "HR-M3-SN002",
               "--operator", "tech.ci", "--answers", "ci", site=installed)  # fmt: skip
    assert card.returncode == 0, card.stdout[-2000:] + card.stderr
    assert "card LL-31-10-00-740-801: PASS" in card.stdout

    campaign = hil(tmp_path, "campaign", "--runs", "4", "--workers", "1", site=installed)
    assert campaign.returncode == 0, campaign.stderr
    assert "within touchdown limits" in campaign.stdout


def test_a_workspace_is_what_the_bench_uses_when_run_inside_it(tmp_path: Path) -> None:
    made = hil(tmp_path, "init", "lab")
    assert made.returncode == 0, made.stderr
    lab = tmp_path / "lab"
    assert (lab / WORKSPACE_FILE).is_file() and (lab / "procedures" / "_common.py").is_file()

    bench = lab / "benches" / "sim.toml"
    bench.write_text(bench.read_text().replace('name = "sim"', 'name = "lab-rig-7"'))
    site = lab / "scenarios" / "my-site.toml"
    site.write_text(
        (lab / "scenarios" / "nominal.toml")
        .read_text()
        .replace('name = "nominal"', 'name = "my-site"')
    )

    inside = hil(lab / "benches", "bench", "check")  # any folder inside the workspace
    assert_checked(inside, "bench lab-rig-7:")
    pointed = hil(tmp_path, "campaign", "--scenario", "my-site", "--runs", "2", "--workers", "1",
                  "--out", str(tmp_path / "c"), HIL_WORKSPACE=str(lab))  # fmt: skip
    assert pointed.returncode == 0 and "campaign: my-site" in pointed.stdout, pointed.stderr
    outside = hil(tmp_path, "campaign", "--scenario", "my-site", "--runs", "2")
    assert outside.returncode == 2 and "unknown scenario 'my-site'" in outside.stderr

    again = hil(tmp_path, "init", "lab")
    assert again.returncode == 2 and "not an empty folder" in again.stderr
    assert bench.read_text().count("lab-rig-7") == 1  # nothing the lab adapted is overwritten


def test_a_workspace_that_is_not_one_is_one_line(tmp_path: Path) -> None:
    result = hil(tmp_path, "cards", "list", HIL_WORKSPACE=str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and WORKSPACE_FILE in result.stderr
