"""The subcommand registry of the command line, and its one lazy-loading mechanism.

Each subcommand module (``cli/verify.py``, ``cli/gradient.py``, ``cli/derive.py``, ``cli/demo.py``) calls
:func:`register` once per subcommand at import time, with the subcommand's name, help, a function that adds its
arguments and the function that runs it; :mod:`symderiv.cli` imports those modules and builds the parser
from :func:`subcommands`, in registration order.

The API behind a subcommand is loaded only when the subcommand runs, so that ``symderiv --help`` stays fast:
a run function reaches it through :func:`api` (``api("proofs.verification").verify(...)``), never through an
import statement inside a function. Looking the function up at call time also lets tests monkeypatch it.

>>> api("core.status").EXIT_OK
0
"""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType

__all__ = ["Subcommand", "api", "register", "subcommands"]


@dataclass(frozen=True)
class Subcommand:
    """One subcommand: its name, one line of help, a longer description, and its two functions."""

    name: str
    help: str
    #: Adds the subcommand's arguments to its (sub)parser.
    arguments: Callable[[argparse.ArgumentParser], None]
    #: Runs it on the parsed arguments; returns the exit code.
    run: Callable[[argparse.Namespace], int]
    description: str | None = None


_REGISTRY: dict[str, Subcommand] = {}


def register(name: str, help: str, arguments: Callable[[argparse.ArgumentParser], None],
             run: Callable[[argparse.Namespace], int], description: str | None = None) -> Subcommand:
    """Add a subcommand (a name is registered once; registering it again replaces it in place).

    >>> def arguments(p): p.add_argument("x")
    >>> register("echo-example", "an example", arguments, lambda args: 0).name
    'echo-example'
    >>> _REGISTRY.pop("echo-example").help
    'an example'
    """
    entry = Subcommand(name, help, arguments, run, description)
    _REGISTRY[name] = entry
    return entry


def subcommands() -> list[Subcommand]:
    """The registered subcommands, in registration order."""
    return list(_REGISTRY.values())


def api(module: str) -> ModuleType:
    """``symderiv.<module>``, imported on first use (the CLI's only deferred import of symderiv's API).

    >>> api("core.errors").SymderivError.__name__
    'SymderivError'
    """
    return importlib.import_module(f"symderiv.{module}")
