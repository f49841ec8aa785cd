"""Command-line failure modes: exit 2 with one clear paragraph, exit 3 for bugs, one line on Ctrl-C."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from symderiv import cli


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_clean_usage_error(code: int, err: str, *needles: str) -> None:
    assert code == 2, err
    assert "Traceback" not in err
    assert err.strip(), "a message is printed"
    # One paragraph: no blank line inside the message.
    assert "\n\n" not in err.strip()
    for needle in needles:
        assert needle in err, (needle, err)


@pytest.mark.parametrize("target", ["/nonexistent-dir-for-symderiv/out.tex", "{tmp}"])
def test_unwritable_output_path(capsys, tmp_path, target):
    # A directory is not a writable file; a missing directory cannot be created by -o.
    path = target.format(tmp=tmp_path)
    code, out, err = run(capsys, "derive", "W @ X", "--wrt", "W", "-o", path)
    assert_clean_usage_error(code, err, path)


@pytest.mark.parametrize("where", ["under a regular file", "under /dev/null", "read-only directory"])
def test_output_path_that_cannot_be_written(capsys, tmp_path, where):
    # Root may write into a read-only directory, so the first two cases fail for everyone (a file is never a
    # directory, even for root); CI runs as root, and these always run there.
    if where == "under a regular file":
        regular = tmp_path / "plain.txt"
        regular.write_text("not a directory")
        target = regular / "x.md"
    elif where == "under /dev/null":
        target = Path("/dev/null") / "x.md"
        if not Path("/dev/null").exists():
            pytest.skip("no /dev/null on this system")
    else:
        target = tmp_path / "locked" / "x.md"
        target.parent.mkdir()
        target.parent.chmod(0o500)
    try:
        if where == "read-only directory" and os.access(target.parent, os.W_OK):
            pytest.skip("this user (root) can write into read-only directories; the other cases cover it")
        code, out, err = run(capsys, "derive", "W @ X", "--wrt", "W", "-o", str(target))
    finally:
        if where == "read-only directory":
            target.parent.chmod(0o700)
    assert_clean_usage_error(code, err, "x.md")
    assert not target.exists()


@pytest.mark.parametrize(("shape", "needle"), [("W=3", "W=3"), ("W3,2", "W3,2"), ("W=a-b,2", "a-b"),
                                               ("W=0,2", "positive"), ("=3,2", "=3,2"), ("W=3,2,1", "W=3,2,1")])
def test_bad_shape_syntax(capsys, shape, needle):
    code, out, err = run(capsys, "verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--shape", shape)
    assert_clean_usage_error(code, err, needle)
    assert out == ""


def test_unknown_format(capsys):
    code, out, err = run(capsys, "derive", "W @ X", "--wrt", "W", "--format", "pdf")
    assert_clean_usage_error(code, err, "pdf")


@pytest.mark.parametrize("command", [["verify", "W @ X", "--wrt", "Q", "--claim", "G"],
                                     ["gradient", "W @ X", "--wrt", "Q"], ["derive", "W @ X", "--wrt", "Q"]])
def test_wrt_missing_from_expression(capsys, command):
    code, out, err = run(capsys, *command)
    assert_clean_usage_error(code, err, "`Q` does not appear")


def test_hostile_expression_is_refused_and_runs_nothing(capsys, tmp_path):
    marker = tmp_path / "p"
    code, out, err = run(capsys, "verify", f"__import__('os').system('touch {marker}')", "--wrt", "W", "--claim", "G")
    assert_clean_usage_error(code, err, "column")
    assert not marker.exists()


def test_internal_error_is_reported_as_a_bug(capsys, monkeypatch):
    import importlib

    # `symderiv.verify` is also the lazily exported function; the module is what the CLI imports from.
    verify_module = importlib.import_module("symderiv.proofs.verification")

    def broken(*args, **kwargs):
        raise ZeroDivisionError("simulated bug")

    monkeypatch.setattr(verify_module, "verify", broken)
    code, out, err = run(capsys, "verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T")
    assert code == 3
    assert "Traceback" not in err
    assert "This is a bug, please report it" in err
    assert "simulated bug" in err
    assert "symderiv 0." in err and "Python 3." in err and "SymPy" in err


def test_budget_refuses_huge_shapes_at_once(capsys):
    start = time.perf_counter()
    # Both shapes concrete: with X symbolic the all-shapes proof covers it at no cost (SPEC section 6).
    code, out, err = run(capsys, "verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--shape", "W=100000,100000",
                         "--shape", "X=100000,100000")
    assert time.perf_counter() - start < 1.0
    assert_clean_usage_error(code, err, "budget", "--budget")
    start = time.perf_counter()
    code, out, err = run(capsys, "verify", "W @ ones(10**9, 10**9)", "--wrt", "W", "--claim",
                         "G @ ones(10**9, 10**9)", "--shape", "W=2,1000000000")
    assert time.perf_counter() - start < 1.0
    assert_clean_usage_error(code, err, "budget")


def test_deep_brackets_exit_2_at_once():
    text = "(" * 100000
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "symderiv.cli", "verify", text, "--wrt", "W", "--claim", "G"],
                          capture_output=True, text=True, timeout=30)
    elapsed = time.perf_counter() - start
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    # Includes interpreter start-up; the parser itself refuses in well under a millisecond.
    assert elapsed < 5.0
    start = time.perf_counter()
    assert cli.main(["verify", text, "--wrt", "W", "--claim", "G"]) == 2
    assert time.perf_counter() - start < 1.0


def test_timeout_stops_cleanly(capsys):
    start = time.perf_counter()
    code, out, err = run(capsys, "verify", "det(X)", "--wrt", "X", "--claim", "det(X) * inv(X).T",
                         "--shape", "X=9,9", "--timeout", "0.2", "--budget", str(10**18))
    assert time.perf_counter() - start < 10
    assert_clean_usage_error(code, err, "time limit")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT semantics differ on Windows")
def test_ctrl_c_prints_one_line():
    # A strict proof at 8×8 runs for many seconds: long enough to be interrupted mid-work.
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from symderiv.cli import main; sys.exit(main(sys.argv[1:]))",
         "verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--shape", "W=8,8", "--shape", "X=8,8", "--strict"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(2.5)  # past start-up, inside main()
    assert proc.poll() is None, "the proof finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip() == "symderiv: interrupted"
