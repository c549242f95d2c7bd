"""A card run writes through the records store, and survives the bench being killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, SIM_BENCH

from hil.cli.main import main
from hil.records.errors import StorageError
from hil.records.sqlite import SqliteStore
from hil.records.verify import verify

pytestmark = pytest.mark.slow


def run_args(card: str, data: Path, out: Path) -> list[str]:
    return [
        "run", str(ROOT / "hil" / "data" / "procedures" / card), "--bench", str(SIM_BENCH),
        "--lander", "HR-M3-SN002", "--operator", "tech.ci",
        "--answers", str(ROOT / "hil" / "data" / "answers" / "ci.toml"),
        "--out", str(out), "--data", str(data),
    ]  # fmt: skip


def test_hil_run_records_every_attempt_durably(tmp_path: Path) -> None:
    assert main(run_args("maintenance_port.py", tmp_path / "data", tmp_path / "out")) == 0
    with SqliteStore(tmp_path / "data") as store:
        (run,) = store.runs()
        events = store.events(run.run_id)
        kinds = [event.kind for event in events]
        assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
        assert kinds.count("attempt") >= 10
        assert verify(store, run.run_id).ok


def count_attempts(data: Path) -> int:
    """Attempts recorded so far by another process (0 while it is still creating the store)."""
    if not (data / "records.sqlite3").exists():
        return 0
    try:
        with SqliteStore(data, readonly=True) as store:
            runs = store.runs()
            return sum(e.kind == "attempt" for e in store.events(runs[0].run_id)) if runs else 0
    except StorageError:  # the schema is being created right now
        return 0


def test_bench_killed_mid_card_leaves_an_interrupted_record_that_verifies(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    command = [sys.executable, "-m", "hil.cli.main", *run_args("throttle_sweep.py", data, tmp_path)]
    child = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )  # fmt: skip
    try:
        deadline_s = time.monotonic() + 60
        attempts = 0
        while attempts < 3:  # let a few steps complete, then pull the plug mid-card
            assert child.poll() is None, "the card finished before it could be killed"
            assert time.monotonic() < deadline_s, "no attempts recorded within 60 s"
            attempts = count_attempts(data)
            time.sleep(0.05)  # polling another process's progress: nothing to wait on here
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    with SqliteStore(data) as store:  # opening writable marks the dead run interrupted
        (run,) = store.runs()
        events = store.events(run.run_id)
        assert run.status == "interrupted", [event.kind for event in events][-6:]
        assert sum(event.kind == "attempt" for event in events) >= attempts
        assert verify(store, run.run_id).ok
