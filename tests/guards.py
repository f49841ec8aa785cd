"""A CPU-time guard for random test cases: some random rational functions make the exact engine slow, and its
inner loops do not all watch ``timeout=`` yet (a case past its allowance is dropped and counted, never passed).

>>> with cpu_guard(5.0):
...     pass
"""

from __future__ import annotations

import contextlib
import signal
import threading


class CaseTooSlow(Exception):
    """Raised inside the guarded block once its CPU allowance is spent."""


@contextlib.contextmanager
def cpu_guard(seconds: float):
    """Interrupt the block after ``seconds`` of this process's CPU time (POSIX main thread; no guard elsewhere)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame):
        raise CaseTooSlow()

    previous = signal.signal(signal.SIGVTALRM, interrupt)
    signal.setitimer(signal.ITIMER_VIRTUAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_VIRTUAL, 0)
        signal.signal(signal.SIGVTALRM, previous)
