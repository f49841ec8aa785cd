"""Shared test configuration: the Hypothesis profiles behind the two kinds of test run.

- **Fixed-seed run** (the default, and what ``.ci/run`` runs): profile ``ci``, derandomized.
  Every run, local or CI, draws the same examples, so a landing never depends on the
  luck of one run.
- **Randomized run**, before each release: ``SYMDERIV_RANDOM=1 python -m pytest``.
  Profile ``random``: not derandomized, with one seed for the whole session,
  printed in the report header. Reproduce a failure with
  ``SYMDERIV_RANDOM=1 SYMDERIV_SEED=<seed> python -m pytest ...``.
- **Long fuzz**: ``python -m pytest --hypothesis-profile=long`` (or ``SYMDERIV_FUZZ=long``):
  randomized like ``random``, and the fuzz and soundness suites run 20× and 10× more inputs.

Tests must not pin ``derandomize`` themselves (that would hide them from the randomized run);
they inherit it from the profile.
"""

import os
import random

import pytest
from hypothesis import settings

pytest_plugins = ["pytester"]

settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("random", derandomize=False, print_blob=True)
settings.register_profile("long", derandomize=False, print_blob=True)

RANDOM = os.environ.get("SYMDERIV_RANDOM", "") not in ("", "0")
LONG = os.environ.get("SYMDERIV_FUZZ", "").lower() == "long"
settings.load_profile("long" if LONG else "random" if RANDOM else "ci")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Runs before Hypothesis's own hook, which loads ``--hypothesis-profile`` and ``--hypothesis-seed``."""
    profile = config.getoption("hypothesis_profile", None) or settings.get_current_profile_name()
    if profile == "long":
        os.environ["SYMDERIV_FUZZ"] = "long"  # read by test_fuzz and test_soundness when they are imported
    if profile in ("random", "long"):
        seed = config.getoption("hypothesis_seed", None) or os.environ.get("SYMDERIV_SEED") \
            or str(random.SystemRandom().randrange(2**32))
        os.environ["SYMDERIV_SEED"] = str(seed)  # the seeded (non-Hypothesis) generators use it too
        config.option.hypothesis_seed = str(seed)


def pytest_report_header(config):
    seed = os.environ.get("SYMDERIV_SEED")
    if config.option.hypothesis_seed is None:
        return "symderiv: fixed-seed run (Hypothesis derandomized); SYMDERIV_RANDOM=1 for a randomized run"
    return (f"symderiv: randomized run, seed {seed}; reproduce with "
            f"SYMDERIV_RANDOM=1 SYMDERIV_SEED={seed} python -m pytest ...")


def pytest_terminal_summary(terminalreporter):
    """The seed again at the end, where ``-q`` still shows it."""
    if terminalreporter.config.option.hypothesis_seed is not None:
        terminalreporter.write_line(f"symderiv: randomized run, seed {os.environ.get('SYMDERIV_SEED')}; reproduce "
                                    f"with SYMDERIV_RANDOM=1 SYMDERIV_SEED={os.environ.get('SYMDERIV_SEED')}")
