"""Exit codes through ``python -m symderiv.cli``: 0 holds, 1 refuted, 2 bad input, 4 undecided; pipes closed early."""

import json
import subprocess
import sys

import pytest

CLI = [sys.executable, "-m", "symderiv.cli"]
SQUARE = ["--shape", "W=2,2", "--shape", "X=2,2"]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, code, first", [
    (["verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", *SQUARE], 0, "PROVED  "),
    (["verify", "W @ X", "--wrt", "W", "--claim", "2 * G @ X.T", *SQUARE], 1, "NOT PROVED  "),
    (["verify", "trace(W)", "--wrt", "W", "--claim", "eye(n) + (trace(eye(n))-2)*(trace(eye(n))-3)*W"], 4,
     "UNDECIDED  "),
    (["verify", "W * relu(W)", "--wrt", "W", "--claim", "2 * G * relu(W)", "--shape", "W=2,2"], 4, "UNDECIDED  "),
])
def test_exit_code_and_first_line(args, code, first):
    result = run(*args)
    assert result.returncode == code, result.stderr
    assert result.stdout.startswith(first)


def test_bad_input_exits_2():
    result = run("verify", "W @ ", "--wrt", "W", "--claim", "G")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_json_carries_the_status():
    result = run("verify", "trace(W)", "--wrt", "W", "--claim", "eye(n) + (trace(eye(n))-2)*(trace(eye(n))-3)*W",
                 "--json")
    assert result.returncode == 4
    assert json.loads(result.stdout)["status"] == "undecided"


@pytest.mark.parametrize("budget", ["-5", "0", "ten"])
def test_a_budget_that_is_not_a_positive_number_is_refused(budget):
    result = run("verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--budget", budget)
    assert result.returncode == 2 and "--budget" in result.stderr and "positive" in result.stderr


def test_strict_with_method_random_is_refused_not_dropped():
    result = run("verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--strict", "--method", "random", *SQUARE)
    assert result.returncode == 2 and "strict" in result.stderr


@pytest.mark.parametrize("method", ["auto", "exact", "random"])
def test_every_method_is_selectable(method):
    result = run("verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--method", method, *SQUARE)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("PROVED")


@pytest.mark.parametrize("args", [["demo"], ["derive", "W @ X", "--wrt", "W"]])
def test_a_reader_that_stops_early_is_not_an_error(args):
    # symderiv demo | head -1: read one line, close the pipe; symderiv must exit 0 without a word on stderr.
    proc = subprocess.Popen([*CLI, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert "Broken pipe" not in err and "Exception" not in err and err == ""


def test_python_m_symderiv_is_the_command_line():
    """``python -m symderiv`` (symderiv/__main__.py) runs the same command line as ``python -m symderiv.cli``."""
    args = ["verify", "W @ X", "--wrt", "W", "--claim", "2 * G @ X.T", *SQUARE]
    package = subprocess.run([sys.executable, "-m", "symderiv", *args], capture_output=True, text=True, timeout=120)
    assert package.returncode == 1 and package.stdout.startswith("NOT PROVED  ")
    assert package.stdout == run(*args).stdout


def test_the_help_lists_every_registered_subcommand_in_order():
    """The subcommands come from the registry (symderiv/cli/registry.py), in the order of HELP_ORDER."""
    result = run("--help")
    listed = [line.split()[0] for line in result.stdout.splitlines() if line[:4] == "    " and line[4:5].strip()]
    assert listed == ["derive", "compare", "gradient", "verify", "hvp", "hessian", "demo", "serve"]
