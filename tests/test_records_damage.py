"""A damaged SQLite records store names what it lost, run by run: a WAL truncated under a
running writer fails that run's end instead of a PASS (and leaves the other runs readable), a
corrupt page costs only the runs on it, a WAL lost after ``kill -9`` still names the run in
progress, and ``hil records recover`` salvages every event that verifies into a new store."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from hil.cli.main import main
from hil.records import SqliteStore, StorageError, verify
from hil.records.sqlite import DB_NAME


def a_run(store: SqliteStore, name: str, steps: int = 4, *, finish: bool = True) -> str:
    run_id = store.create_run({"card": {"number": f"LL-{name}"}, "lander": "HR-2"})
    for step in range(1, steps + 1):
        store.append(run_id, "attempt", {"step": step, "text": f"MARKER-{name}-{step:03d} " * 8})
    if finish:
        store.finish(run_id, "PASS")
    return run_id


def test_a_wal_truncated_under_a_running_writer_fails_that_run_and_spares_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    with SqliteStore(data) as store:
        first = a_run(store, "A")
    with SqliteStore(data) as store:
        second = a_run(store, "B", finish=False)
        os.truncate(data / (DB_NAME + "-wal"), 0)  # someone else cuts the log under the bench
        a_run(store, "C", steps=1, finish=False)
        store.append(second, "attempt", {"step": 5, "text": "after the cut"})
        with pytest.raises(StorageError, match=rf"run {second}: the write-ahead log was damaged"):
            store.finish(second, "PASS")
    # the other runs still read and verify, and the run that was cut is named
    assert main(["records", "verify", "--data", str(data)]) == 1
    out = capsys.readouterr().out
    assert f"run {first}: OK" in out
    assert f"run {second}: LOST: started" in out and "card LL-B" in out
    assert main(["records", "recover", str(data), str(tmp_path / "new")]) == 1
    out = capsys.readouterr().out
    assert f"run {first}: intact (6 events)" in out and f"run {second}: LOST" in out
    with SqliteStore(tmp_path / "new") as salvaged:
        assert verify(salvaged, first).ok


def _corrupt_a_leaf_of(path: Path, name: str) -> None:
    """Overwrite a leaf page (type 0x0a) holding only events from the middle of run ``name``
    (in the events b-tree an interior page holds whole entries too: damage there would reach
    every run below it, which is not what this test is about)."""
    data = path.read_bytes()
    page_bytes = int.from_bytes(data[16:18], "big")
    for step in range(40, 81):
        pages = {
            m.start() // page_bytes for m in re.finditer(f"MARKER-{name}-{step:03d}".encode(), data)
        }
        if len(pages) == 1 and data[min(pages) * page_bytes] == 0x0A:
            with open(path, "r+b") as stream:
                stream.seek(min(pages) * page_bytes)
                stream.write(b"\xff" * page_bytes)
            return
    raise AssertionError(f"no leaf page of run {name} found")


def test_a_corrupt_page_costs_only_the_runs_on_it_and_recover_salvages_the_rest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    with SqliteStore(data) as store:
        # (events of a run are neighbours in the events table: a run of 120 fills leaf pages
        # of its own in the middle, where the damage is put)
        runs = {name: a_run(store, name, steps=120) for name in "ABC"}
    assert not (data / (DB_NAME + "-wal")).exists()  # all in the database file
    _corrupt_a_leaf_of(data / DB_NAME, "B")
    assert main(["records", "verify", "--data", str(data)]) == 1
    out = capsys.readouterr().out
    assert f"run {runs['A']}: OK" in out and f"run {runs['C']}: OK" in out
    (unreadable,) = [line for line in out.splitlines() if "UNREADABLE" in line]
    assert unreadable.startswith(f"run {runs['B']}: UNREADABLE: records database ")
    assert len(unreadable) < 400
    assert main(["records", "recover", str(data), str(tmp_path / "new")]) == 1
    out = capsys.readouterr().out
    assert f"run {runs['A']}: intact (122 events)" in out
    damaged = re.search(
        rf"run {runs['B']}: DAMAGED, events 1-(\d+) kept; event (\d+) is unread", out
    )
    assert (
        damaged is not None and 10 < int(damaged[1]) < 81 and int(damaged[2]) == int(damaged[1]) + 1
    )
    assert "recovered 3 of 3 runs" in out
    with SqliteStore(tmp_path / "new") as salvaged:
        for run_id in runs.values():
            assert verify(salvaged, run_id).ok
        cut = salvaged.events(runs["B"])
        assert len(cut) == int(damaged[2]) and cut[-1].kind == "run_interrupted"
        assert f"event {damaged[2]} is unreadable" in cut[-1].payload["reason"]
        assert salvaged.run(runs["B"]).status == "interrupted"
    # the source was only read
    assert main(["records", "recover", str(data), str(tmp_path / "new")]) == 1
    assert "already exists" in capsys.readouterr().err


WRITER = textwrap.dedent(
    """
    import sys
    from hil.records import SqliteStore
    with SqliteStore(sys.argv[1]) as store:
        run_id = store.create_run({"card": {"number": "LL-K"}, "lander": "HR-2"})
        print(run_id, flush=True)
        step = 0
        while True:
            step += 1
            store.append(run_id, "attempt", {"step": step})
            print(step, flush=True)
    """
)


def test_a_run_whose_wal_was_lost_after_kill_9_is_named_not_erased(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    with SqliteStore(data) as store:
        finished = a_run(store, "A", steps=1)
    child = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        run_id = child.stdout.readline().strip()
        for line in child.stdout:
            if int(line) >= 20:
                break
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(timeout=10)
        if child.stdout:
            child.stdout.close()
    for suffix in ("-wal", "-shm"):  # the log is lost with the machine
        (data / (DB_NAME + suffix)).unlink(missing_ok=True)
    with SqliteStore(data) as store:
        assert [run.run_id for run in store.runs()] == [finished]
        (lost,) = store.lost_runs()
        assert lost.startswith(f"run {run_id}: LOST") and f"process {child.pid}" in lost
    assert main(["records", "list", "--data", str(data)]) == 1
    assert f"run {run_id}: LOST" in capsys.readouterr().out


def test_a_run_that_ends_leaves_no_open_run_marker(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "data") as store:
        a_run(store, "A", steps=1)
        open_run = a_run(store, "B", steps=1, finish=False)
        assert [p.stem for p in (tmp_path / "data" / "open-runs").iterdir()] == [open_run]
        assert store.lost_runs() == []
