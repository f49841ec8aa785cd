"""The conventions of a well-kept Python package, each checked: licence, changelog, metadata, a single-sourced
version, documented options with examples, ``--json``, ``-q``, no escape codes in piped output, completion."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import symderiv
from symderiv.cli import build_parser, main
from symderiv.cli.help import EXAMPLES

ROOT = Path(__file__).resolve().parent.parent
tomllib = pytest.importorskip("tomllib", reason="reading pyproject.toml needs Python 3.11's tomllib")


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _run(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "symderiv", *args], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, **env})


def _subparsers():
    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction"]
    return sub.choices


def test_the_licence_file_is_the_licence_pyproject_names():
    project = _pyproject()["project"]
    assert project["license"] == {"text": "MIT"}
    assert (ROOT / "LICENSE").read_text(encoding="utf-8").startswith("MIT License")
    assert "License :: OSI Approved :: MIT License" in project["classifiers"]


def test_changelog_contributing_and_urls():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## [Unreleased]" in changelog and f"## [{symderiv.__version__}]" in changelog
    assert (ROOT / "CONTRIBUTING.md").is_file()
    project = _pyproject()["project"]
    assert {"Homepage", "Documentation", "Changelog", "Issues"} <= set(project["urls"])
    versions = {c.rsplit(" :: ", 1)[1] for c in project["classifiers"] if c.startswith("Programming Language :: Python :: 3.")}
    assert f"3.{sys.version_info.minor}" in versions or sys.version_info >= (3, 13)


def test_the_version_is_written_once():
    data = _pyproject()
    assert "version" not in data["project"] and "version" in data["project"]["dynamic"]
    assert data["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "symderiv.__version__"}
    result = _run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"symderiv {symderiv.__version__}"


def test_every_option_of_every_subcommand_has_help():
    for name, parser in _subparsers().items():
        for action in parser._actions:
            label = action.option_strings or [action.dest]
            assert action.help, f"`symderiv {name}`: {'/'.join(label)} has no help text"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_subcommand_help_has_examples_that_parse(name):
    text = _subparsers()[name].format_help()
    assert "examples:" in text
    for line, _ in EXAMPLES[name]:
        assert line in text
        words = shlex.split(line.split("|")[0])
        assert words[:2] == ["symderiv", name]
        args = build_parser().parse_args(words[1:])  # an example that does not parse fails here
        assert args.command == name


def test_every_registered_subcommand_has_examples():
    assert set(_subparsers()) == set(EXAMPLES)


def test_json_on_derive_and_compare(capsys):
    assert main(["derive", "W @ X", "--wrt", "W", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["result"]["formula"] == "G @ X.T" and data["result"]["proof"]["status"] == "proved"
    assert [s["kind"] for s in data["steps"]][-1] == "matrix_form" and all(s["checked"] for s in data["steps"])
    assert main(["compare", "W @ X", "X @ W", "--wrt", "W", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["first"]["result"]["formula"] == "G @ X.T" and data["second"]["result"]["formula"] == "X.T @ G"
    assert "transpose" in data["relation"]


def test_quiet_prints_nothing_and_the_exit_code_answers(capsys):
    assert main(["verify", "W @ X", "--wrt", "W", "--claim", "X.T @ G", "-q"]) == 1
    assert main(["verify", "W @ X", "--wrt", "W", "--claim", "G @ X.T", "--quiet"]) == 0
    assert main(["gradient", "W @ X", "--wrt", "W", "-q"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["gradient", "W @", "--wrt", "W", "-q"]) == 2
    assert "symderiv:" in capsys.readouterr().err  # errors are still said


def test_piped_output_has_no_escape_codes():
    # symderiv has no colour; its one terminal control (the progress line) is written only to a TTY.
    for args in (["demo"], ["verify", "W @ X", "--wrt", "W", "--claim", "X.T @ G"], ["derive", "W @ X", "--wrt", "W"]):
        result = _run(*args, FORCE_COLOR="1")
        assert "\x1b" not in result.stdout + result.stderr, args


def test_shell_completion(tmp_path):
    pytest.importorskip("argcomplete", reason="argcomplete is not installed (pip install '.[completion]')")
    out = tmp_path / "completions"
    line = "symderiv gra"
    result = subprocess.run([sys.executable, "-m", "symderiv"], capture_output=True, text=True, timeout=120, cwd=ROOT,
                            env={**os.environ, "_ARGCOMPLETE": "1", "COMP_LINE": line, "COMP_POINT": str(len(line)),
                                 "_ARGCOMPLETE_STDOUT_FILENAME": str(out)})
    assert result.returncode == 0
    assert re.split(r"\s+", out.read_text().strip()) == ["gradient"]
    marker = (ROOT / "symderiv" / "cli" / "__init__.py").read_text(encoding="utf-8")[:1024]
    assert "PYTHON_ARGCOMPLETE_OK" in marker  # argcomplete completes only scripts that say so


def test_the_documentation_site_builds_without_warnings(tmp_path):
    pytest.importorskip("mkdocstrings", reason="the docs extra is not installed (pip install '.[docs]')")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    api = (tmp_path / "reference" / "api" / "index.html").read_text(encoding="utf-8")
    assert "symderiv.proofs.gradient.gradient" in api and "language-pycon" in api  # docstrings and their doctests
