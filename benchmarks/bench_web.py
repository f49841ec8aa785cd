"""A bounded load test of ``symderiv serve``, against localhost only.

Run: ``python benchmarks/bench_web.py [--requests 500] [--clients 8] [--workers 4] [--time-limit 2]``.
It starts ``symderiv serve`` on a free loopback port in a subprocess, sends a seeded mix of valid, slow and
hostile requests from concurrent clients, and prints a Markdown table of latencies (p50/p95/max) per kind,
the server's peak memory (the sum of the resident sizes of its process tree, sampled every 50 ms), and a check
that no valid request failed and that no worker was left stuck afterwards. Exit code 1 when a check fails.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

VALID = [
    ("gradient", {"expr": "W @ X", "wrt": ["W"]}, 200),
    ("gradient", {"expr": "relu(W @ X + b)", "wrt": ["W", "b"], "shape": ["b=H,1"]}, 200),
    ("verify", {"expr": "W @ X", "wrt": ["W"], "claim": "G @ X.T", "shape": ["W=2,3", "X=3,4"]}, 200),
    ("derive", {"expr": "W @ X", "wrt": ["W"], "shape": ["W=H,m", "X=m,n"]}, 200),
    ("compare", {"expr": "W @ X", "wrt": ["W"]}, 200),
    ("gradient", {"expr": "trace(A @ X @ B)", "wrt": ["X"]}, 200),
]
#: Runs for minutes unless killed (a derivation checked on 14×14 shapes).
SLOW = [("derive", {"expr": "exp(W @ X) / sum(exp(W @ X), axis=0)", "wrt": ["W"], "shape": ["W=8,6", "X=6,9"]}, 504)]
HOSTILE = [
    ("gradient", {"expr": "<script>alert(1)</script>", "wrt": ["W"]}, 400),
    ("gradient", {"expr": "W @ X", "wrt": ["W"], "shape": ["<script>=2,2"]}, 400),
    ("gradient", {"expr": "__import__('os').system('id')", "wrt": ["W"]}, 400),
    ("gradient", {"expr": "(" * 1000 + "W" + ")" * 999, "wrt": ["W"]}, 400),
    ("gradient", {"expr": "W @ X", "wrt": ["W"], "shape": ["W=100000,100000", "X=100000,100000"]}, None),
    ("gradient", {"expr": " + ".join(["W @ X"] * 300), "wrt": ["W"]}, None),
    ("gradient", {"expr": 5, "wrt": {"a": 1}}, 400),
    ("eval", {"expr": "1"}, 404),
    ("gradient", b"{not json", 400),
    ("gradient", b'{"expr": "' + b"W" * 70000 + b'"}', 413),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tree(root: int) -> list[int]:
    """The process ids of ``root`` and all its descendants (from /proc)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    todo.extend(int(c) for c in handle.read().split())
        except OSError:
            continue
    return found


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


def send(port: int, kind: str, body) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    try:
        conn.request("POST", f"/api/{kind}", body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    except (ConnectionError, OSError) as err:  # a 413 may close the socket before the body is sent
        return (413, b"") if len(data) > 65536 else (-1, str(err).encode())
    finally:
        conn.close()


def wait_ready(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            if send(port, "gradient", {"expr": "W @ X", "wrt": ["W"]})[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("the server did not start")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--time-limit", type=float, default=2.0)
    parser.add_argument("--slow", type=float, default=0.04, help="share of slow requests (default 0.04)")
    parser.add_argument("--hostile", type=float, default=0.2, help="share of hostile requests (default 0.2)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    plan = []
    for _ in range(args.requests):
        r = rng.random()
        group, table = (("slow", SLOW) if r < args.slow else ("hostile", HOSTILE) if r < args.slow + args.hostile
                        else ("valid", VALID))
        plan.append((group, *rng.choice(table)))

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "symderiv", "serve", "--port", str(port), "--workers",
                               str(args.workers), "--time-limit", str(args.time_limit)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], sum(rss_kb(p) for p in tree(server.pid)))
            time.sleep(0.05)

    results: list[tuple[str, str, int, int | None, float]] = []
    try:
        wait_ready(port, time.monotonic() + 120)
        threading.Thread(target=sample, daemon=True).start()

        def one(item):
            group, kind, body, expected = item
            start = time.monotonic()
            status, _ = send(port, kind, body)
            return group, kind, status, expected, time.monotonic() - start

        start = time.monotonic()
        with ThreadPoolExecutor(args.clients) as pool:
            results = list(pool.map(one, plan))
        elapsed = time.monotonic() - start
        # no stuck worker: after the load, the tree is the server, the fork server and the workers, all idle
        time.sleep(args.time_limit + 2)
        pids = tree(server.pid)
        before = {p: cpu_ticks(p) for p in pids}
        time.sleep(1.0)
        busy = [p for p in pids if cpu_ticks(p) - before[p] > 20]  # >0.2 s of CPU in 1 s while idle
        after_start = time.monotonic()
        after_status = send(port, "gradient", {"expr": "W @ X", "wrt": ["W"]})[0]
        after_latency = time.monotonic() - after_start
    finally:
        done.set()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()

    print(f"{args.requests} requests, {args.clients} clients, {args.workers} workers, time limit {args.time_limit:g} s, "
          f"seed {args.seed}: {elapsed:.1f} s in all\n")
    print("| kind | requests | p50 (s) | p95 (s) | max (s) | statuses |")
    print("|---|---:|---:|---:|---:|---|")
    for group in ("valid", "slow", "hostile"):
        rows = [r for r in results if r[0] == group]
        times = [r[4] for r in rows]
        statuses = {}
        for r in rows:
            statuses[r[2]] = statuses.get(r[2], 0) + 1
        print(f"| {group} | {len(rows)} | {percentile(times, 0.5):.3f} | {percentile(times, 0.95):.3f} | "
              f"{max(times, default=float('nan')):.3f} | {', '.join(f'{k}: {v}' for k, v in sorted(statuses.items()))} |")
    failed = [r for r in results if r[3] is not None and r[2] != r[3]]
    failed_valid = [r for r in failed if r[0] == "valid"]
    unanswered = [r for r in results if r[2] < 0 or r[2] >= 500 and r[0] != "slow"]
    print(f"\npeak memory of the server's process tree: {peak[0] / 1024:.0f} MB")
    print(f"after the load: {len(pids)} processes ({args.workers} workers + server + fork server + resource "
          f"tracker), busy: {len(busy)}; a valid request then took {after_latency:.3f} s (status {after_status})")
    print(f"failed valid requests: {len(failed_valid)}; other unexpected statuses: {len(failed) - len(failed_valid)}; "
          f"unanswered or 5xx outside the slow ones: {len(unanswered)}")
    for r in failed[:10]:
        print("  unexpected:", r)
    ok = not failed_valid and not busy and after_status == 200 and not unanswered
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
