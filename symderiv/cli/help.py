"""What ``symderiv COMMAND --help`` says beyond the options: examples for every subcommand, and the help of
arguments that several subcommands share (filled in where a subcommand's module gave none).

>>> import argparse
>>> p = argparse.ArgumentParser()
>>> _ = p.add_argument("--wrt")
>>> document(p, "gradient")
>>> p._actions[-1].help.startswith("the matrix V"), "examples:" in p.epilog
(True, True)
"""

from __future__ import annotations

import argparse

__all__ = ["EXAMPLES", "SHARED_HELP", "document"]

#: Example command lines of each subcommand, with what they do.
EXAMPLES: dict[str, tuple[tuple[str, str], ...]] = {
    "derive": (
        ("symderiv derive 'W @ X' --wrt W", "the derivation of ∂L/∂W, step by step, as text"),
        ("symderiv derive 'relu(W @ X + b)' --wrt W --shape b=n,1 --format latex -o grad.tex", "LaTeX, to a file"),
        ("symderiv derive 'W @ X' --wrt W --json", "the steps as JSON"),
        ("symderiv derive 'relu(W @ X + b)' --wrt W --wrt b --shape b=n,1 --worked-example",
         "both gradients in one document, with every entry worked out on small integer matrices"),
    ),
    "compare": (
        ("symderiv compare 'W @ X' 'X @ W' --wrt W", "two derivations and how their results relate"),
        ("symderiv compare 'W @ X' 'X @ W' --wrt W --json", "the same as JSON"),
    ),
    "gradient": (
        ("symderiv gradient 'W @ X' --wrt W", "the proved formula: G @ X.T"),
        ("symderiv gradient 'X @ W + b' --wrt W --wrt b --shape b=1,M", "two gradients, one per line"),
        ("symderiv gradient 'sigmoid(W @ X)' --wrt W --emit torch --forward", "runnable PyTorch functions"),
        ("symderiv gradient 'logdet(X)' --wrt X --json", "the result with its proof record, as JSON"),
    ),
    "verify": (
        ("symderiv verify 'W @ X' --wrt W --claim 'G @ X.T'", "prove a claim (exit 0)"),
        ("symderiv verify 'W @ X' --wrt W --claim 'X.T @ G'", "refute one, with a witness (exit 1)"),
        ("symderiv verify 'trace(A @ X)' --wrt X --claim 'A.T' -q", "only the exit code"),
    ),
    "hvp": (
        ("symderiv hvp 'logdet(X)' --wrt X", "the Hessian of logdet applied to a direction V, proved"),
        ("symderiv hvp 'sum((X @ w - y) ** 2)' --wrt w --shape w=n,1 --shape y=m,1 --claim '2 * X.T @ X @ V'",
         "verify a claimed Hessian-vector product"),
    ),
    "hessian": (
        ("symderiv hessian 'sum((X @ w - y) ** 2)' --wrt w --shape w=n,1 --shape y=m,1", "the Hessian 2 * X.T @ X"),
        ("symderiv hessian 'x.T @ A @ x' --wrt x --shape x=n,1 --claim 'A + A.T'", "verify a claimed Hessian"),
    ),
    "serve": (
        ("symderiv serve", "the local page on http://127.0.0.1:8000"),
        ("symderiv serve --port 8080 --open", "another port, opened in the browser"),
    ),
    "demo": (
        ("symderiv demo", "∂L/∂W of D = W X: the entries, the proof and a refuted claim"),
        ("symderiv demo | head -5", "its first lines (a closed pipe ends it quietly)"),
    ),
}

#: Help of arguments that several subcommands take, by their first option string (or positional name).
SHARED_HELP: dict[str, str] = {
    "expression": "the expression D, in the matrix language, e.g. 'W @ X + b' (quote it for the shell)",
    "first": "the first expression, e.g. 'W @ X'",
    "second": "the second expression, e.g. 'X @ W'",
    "--wrt": "the matrix V of ∂L/∂V, a name of the expression",
    "--claim": "the claimed gradient ∂L/∂V, e.g. 'G @ X.T' (G is the upstream gradient)",
    "--layout": "denominator (default): ∂L/∂V has the shape of V; numerator: its transpose",
}


def document(parser: argparse.ArgumentParser, name: str) -> None:
    """Give ``parser`` (the subcommand ``name``) its examples and the shared help of undocumented arguments."""
    for action in parser._actions:
        key = action.option_strings[-1] if action.option_strings else action.dest
        if not action.help and key in SHARED_HELP:
            action.help = SHARED_HELP[key]
    examples = EXAMPLES.get(name, ())
    if examples:
        width = max(len(line) for line, _ in examples)
        lines = [f"  {line.ljust(width)}   # {what}" for line, what in examples]
        parser.epilog = "examples:\n" + "\n".join(lines)
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
