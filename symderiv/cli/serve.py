"""``symderiv serve``: the local web page and its JSON API (docs/web.md).

It binds the loopback address unless ``--host`` names another, which prints a warning: the page is meant
for the machine it runs on.

>>> from symderiv.cli import build_parser
>>> args = build_parser().parse_args(["serve", "--port", "0"])
>>> args.host, args.port, args.open
('127.0.0.1', 0, False)
"""

from __future__ import annotations

import argparse
import sys

from symderiv.cli.common import EXIT_OK
from symderiv.cli.registry import api, register

__all__ = ["serve_arguments", "run_serve"]

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def serve_arguments(p: argparse.ArgumentParser) -> None:
    """The arguments of ``serve``."""
    p.add_argument("--port", type=int, default=8000, help="the port (default 8000; 0 picks a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to bind (default 127.0.0.1, this machine only); another prints a warning")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    p.add_argument("--time-limit", type=float, default=10.0, metavar="SECONDS",
                   help="wall-clock limit of one request; its worker is killed past it (default 10 s)")
    p.add_argument("--memory-limit", type=int, default=2048, metavar="MB",
                   help="address-space cap of each worker process, in megabytes (default 2048; 0: no cap)")


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted."""
    if args.host not in LOOPBACK:
        sys.stderr.write(f"symderiv serve: WARNING: binding {args.host}: other machines can reach this server. "
                         "It is meant for this machine only (the default 127.0.0.1).\n")
    api("web.server").serve(args.host, args.port, open_browser=args.open, workers=max(1, args.workers),
                            limit=args.time_limit, memory_mb=args.memory_limit or None)
    return EXIT_OK


register("serve", "a local web page: gradients, proofs, derivations and layouts side by side", serve_arguments,
         run_serve, description="Serve the symderiv page on http://127.0.0.1:8000/ (this machine only).")
