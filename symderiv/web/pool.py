"""Worker processes with a wall-clock limit: a job that overruns is killed with its process.

A :class:`Pool` keeps ``size`` warm worker processes (started by a fork server that has symderiv loaded, so a
replacement is ready in milliseconds). :meth:`Pool.run` takes an idle worker (waiting at most ``queue_wait``
seconds: past it the server is busy), sends it the job, and waits at most ``limit`` seconds for the answer;
past the limit the worker is killed and replaced, and the caller gets ``None``. A hostile request therefore
holds one worker for at most its limit and never stalls the server. Each worker's address space is capped at
``memory_mb`` megabytes (``RLIMIT_AS``), so a request that allocates past it fails inside its worker (an
internal-error answer, or the worker dies and is replaced) instead of exhausting the machine.

>>> pool = Pool(size=1, limit=20.0)
>>> pool.run("gradient", {"expr": "W @ X", "wrt": ["W"]})[1]["formula"]
'G @ X.T'
>>> pool.close()
"""

from __future__ import annotations

import multiprocessing
import queue
import resource
import threading
from multiprocessing.connection import Connection
from typing import Any

from symderiv.web import jobs

__all__ = ["Pool", "Busy", "DEFAULT_MEMORY_MB"]

#: The default cap on a worker's address space, in megabytes.
DEFAULT_MEMORY_MB = 2048

_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["symderiv.web.jobs"])


class Busy(Exception):
    """Every worker stayed busy for ``queue_wait`` seconds."""


def _cap_memory(memory_mb: int | None) -> None:
    """Cap this process's address space at ``memory_mb`` megabytes (no cap for None)."""
    if memory_mb is not None:
        cap = memory_mb * 1024 * 1024
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap if hard == resource.RLIM_INFINITY else min(cap, hard)))


def _serve(conn: Connection, limit: float, memory_mb: int | None) -> None:  # pragma: no cover - worker process
    """The worker's loop: one job at a time, until the pipe closes."""
    _cap_memory(memory_mb)
    while True:
        try:
            kind, body = conn.recv()
        except (EOFError, OSError):
            return
        try:
            answer = jobs.run(kind, body, timeout=limit)
        except Exception as exc:  # noqa: BLE001 - a bug in one request must not end the worker
            answer = (500, {"error": {"message": f"internal error ({type(exc).__name__})", "field": "form"}})
        conn.send(answer)


class _Worker:
    def __init__(self, limit: float, memory_mb: int | None) -> None:
        self.conn, child = _CONTEXT.Pipe()
        self.process = _CONTEXT.Process(target=_serve, args=(child, limit, memory_mb), daemon=True)
        self.process.start()
        child.close()

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class Pool:
    """``size`` worker processes; each job gets at most ``limit`` seconds of wall-clock time and each worker at
    most ``memory_mb`` megabytes of address space (None: no cap)."""

    def __init__(self, size: int = 2, limit: float = 10.0, queue_wait: float = 30.0, *,
                 job_timeout: float | None = None, grace: float = 1.0,
                 memory_mb: int | None = DEFAULT_MEMORY_MB) -> None:
        self.limit = limit
        self.memory_mb = memory_mb
        #: The API's own ``timeout=`` inside the worker (default the limit); the kill comes ``grace`` s after the limit.
        self.job_timeout = limit if job_timeout is None else job_timeout
        self.grace = grace
        self.queue_wait = queue_wait
        self.idle: queue.Queue[_Worker] = queue.Queue()
        self.lock = threading.Lock()
        self.workers: list[_Worker] = []
        self.killed = 0
        for _ in range(size):
            self._add()

    def _add(self) -> None:
        worker = _Worker(self.job_timeout, self.memory_mb)
        with self.lock:
            self.workers.append(worker)
        self.idle.put(worker)

    def _replace(self, worker: _Worker) -> None:
        worker.kill()
        with self.lock:
            self.workers.remove(worker)
            self.killed += 1
        self._add()

    def run(self, kind: str, body: Any) -> tuple[int, Any] | None:
        """The job's ``(status, payload)``, or None when it overran the limit (its worker was killed)."""
        try:
            worker = self.idle.get(timeout=self.queue_wait)
        except queue.Empty:
            raise Busy from None
        try:
            worker.conn.send((kind, body))
            # the API's own timeout fires first; the kill is the backstop
            if worker.conn.poll(self.limit + self.grace):
                answer: tuple[int, Any] = worker.conn.recv()
                self.idle.put(worker)
                return answer
        except (EOFError, OSError):  # the worker died (out of memory, a crash): replace it
            pass
        self._replace(worker)
        return None

    def pids(self) -> list[int]:
        """The process ids of the current workers."""
        with self.lock:
            return [w.process.pid for w in self.workers if w.process.pid is not None]

    def close(self) -> None:
        with self.lock:
            workers, self.workers = self.workers, []
        for worker in workers:
            worker.kill()
