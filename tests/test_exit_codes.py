"""The exit statuses of the ``hil`` command, run as a user runs it: pass, fail, usage or
configuration, link and internal error are all different, ``hil --help`` lists them, and an id
that does not exist is a usage error, never a FAIL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import LAB_BENCH

import hil.cli.exit_codes as codes
from hil.cli.main import main


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip()


def test_the_statuses_are_all_different_and_hil_help_lists_each(
    capsys: pytest.CaptureFixture[str],
) -> None:
    statuses = {
        name: value
        for name, value in vars(codes).items()
        if name.startswith("EXIT_") and isinstance(value, int)
    }
    assert set(statuses) >= {
        "EXIT_OK", "EXIT_FAILED", "EXIT_CONFIG", "EXIT_LINK", "EXIT_INTERNAL", "EXIT_INTERRUPTED"
    }  # fmt: skip
    assert len(set(statuses.values())) == len(statuses)
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    listed = dict(re.findall(r"^\s+(\d+)\s+(\w+)", out.split("exit status:")[1], re.M))
    assert listed == {
        str(codes.EXIT_OK): "passed",
        str(codes.EXIT_FAILED): "failed",
        str(codes.EXIT_CONFIG): "usage",
        str(codes.EXIT_LINK): "link",
        str(codes.EXIT_INTERNAL): "internal",
        str(codes.EXIT_INTERRUPTED): "interrupted",
    }


def test_a_wrong_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["records", "show"])  # the run id is missing
    assert done.value.code == codes.EXIT_CONFIG
    assert main([]) == codes.EXIT_CONFIG  # no command: the help, and a usage status


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """``--data DIR`` of a records store that exists and holds one person, no runs."""
    monkeypatch.setenv("HIL_SECRET", "correct horse battery")
    data = ["--data", str(tmp_path / "data")]
    admin = ["people", "bootstrap-admin", "root", "--name", "R. Admin"]
    assert main([*admin, *data]) == 0
    monkeypatch.setenv("HIL_ADMIN_SECRET", "correct horse battery")
    add = ["people", "add", "insp", "--name", "I. Nspector", "--role", "inspector"]
    assert main([*add, "--admin", "root", *data]) == 0
    return data


@pytest.mark.parametrize(
    "command",
    [
        ["records", "show", "nope"],
        ["records", "verify", "nope"],
        ["records", "export", "nope"],
        ["records", "sign", "nope", "--person", "insp", "--meaning", "inspected"],
        ["people", "revoke", "nobody", "--reason", "left", "--admin", "root"],
    ],
)
def test_an_unknown_id_is_a_usage_error_not_a_fail(
    command: list[str], store: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if command[1] == "export":
        command = [*command, "--out", str(tmp_path / "export")]
    code, _, err = _run([*command, *store], capsys)
    assert code == codes.EXIT_CONFIG, err
    assert err.startswith("hil: ") and "\n" not in err
    assert "'nope'" in err or "'nobody'" in err


def test_an_unknown_lander_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = ["--data", str(tmp_path / "data")]
    code, _, err = _run(["fleet", "due", "--lander", "SN404", *data], capsys)
    assert (code, err) == (codes.EXIT_CONFIG, "hil: lander 'SN404': not registered (landers: none)")


def test_a_link_that_cannot_open_is_a_link_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(["bench", "check", "--bench", str(LAB_BENCH)], capsys)
    assert code == codes.EXIT_LINK and "socketcan" in err


def test_a_bug_is_an_internal_error_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(path: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("hil.core.config.load_bench", broken)
    code, _, err = _run(["bench", "check"], capsys)
    assert code == codes.EXIT_INTERNAL
    assert err.startswith("hil: internal error: ZeroDivisionError: division by zero at ")
    assert err.endswith("(run again with --debug for the traceback)") and "\n" not in err
    with pytest.raises(ZeroDivisionError):
        main(["--debug", "bench", "check"])
