"""symderiv serve: the JSON API, its limits and its safety, against a real server on a free loopback port."""

from __future__ import annotations

import http.client
import importlib.util
import io
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import redirect_stdout

import numpy as np
import pytest

from symderiv.cli import main
from symderiv.web import pool as web_pool
from symderiv.web import server as web_server

RELU = {"expr": "relu(W @ X + b)", "wrt": ["W", "b"], "shape": ["b=H,1"]}


@pytest.fixture(scope="module")
def address():
    server = web_server.make_server("127.0.0.1", 0, workers=2, limit=30.0, quiet=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address
    server.shutdown()
    server.server_close()
    server.app.pool.close()


def request(address, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection(*address, timeout=60)
    data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
    conn.request(method, path, body=data, headers=headers or {})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, dict(response.getheaders()), payload


def post(address, kind, body):
    status, _, payload = request(address, "POST", f"/api/{kind}", body, {"Content-Type": "application/json"})
    return status, json.loads(payload)


def cli_json(argv):
    out = io.StringIO()
    with redirect_stdout(out):
        code = main(argv)
    return code, json.loads(out.getvalue())


def test_the_page_is_self_contained_with_a_strict_policy(address):
    status, headers, page = request(address, "GET", "/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    policy = headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe" not in policy
    text = page.decode()
    assert "http://" not in text.replace("http://www.w3.org", "") and "https://" not in text  # no CDN
    for asset in ("/static/app.js", "/static/app.css"):
        assert asset in text
        status, headers, body = request(address, "GET", asset)
        assert status == 200 and body and "Content-Security-Policy" in headers
    assert b"innerHTML = markup" in request(address, "GET", "/static/app.js")[2]  # server HTML only, one place
    assert request(address, "GET", "/../pyproject.toml")[0] == 404


def test_gradient_is_the_command_lines_json(address):
    status, payload = post(address, "gradient", RELU)
    code, expected = cli_json(["gradient", "relu(W @ X + b)", "--wrt", "W", "--wrt", "b", "--shape", "b=H,1", "--json"])
    assert (status, code) == (200, 0)
    assert payload == expected
    assert [g["formula"] for g in payload] == ["(G * step(W @ X + b)) @ X.T", "sum(G * step(W @ X + b), axis=1)"]


def test_verify_is_the_command_lines_json(address):
    body = {"expr": "W @ X", "wrt": ["W"], "claim": "G @ X", "shape": ["W=3,3", "X=3,3"]}
    status, payload = post(address, "verify", body)
    code, expected = cli_json(["verify", "W @ X", "--wrt", "W", "--claim", "G @ X", "--shape", "W=3,3",
                               "--shape", "X=3,3", "--json"])
    assert status == 200 and code == 1
    assert payload == expected and payload["status"] == "refuted"


def test_derive_has_collapsible_blocks_math_and_exports(address):
    status, d = post(address, "derive", {"expr": "W @ X", "wrt": ["W"], "shape": ["W=H,m", "X=m,n"]})
    assert status == 200
    assert d["result"]["formula"] == "G @ X.T" and d["result"]["proof"]["status"] == "proved"
    assert d["mathml"].startswith("<math") and "<details" in d["html"] and "<summary>" in d["html"]
    assert d["html"].count("<details") == d["html"].count("</details>")
    assert d["latex"].startswith("\\documentclass") and d["markdown"].startswith("#") and "Step 1" in d["text"]


def test_compare_pairs_the_layer_with_its_transposed_layout(address):
    status, c = post(address, "compare", {"expr": "relu(W @ X + b)", "wrt": ["W"], "shape": ["b=H,1"]})
    assert status == 200
    assert c["second"]["expression"] == "relu(X @ W + b)"
    assert c["first"]["result"]["formula"] == "(G * step(W @ X + b)) @ X.T"
    assert c["second"]["result"]["formula"] == "X.T @ (G * step(X @ W + b))"
    assert "with every matrix transposed" in c["relation"]
    status, c = post(address, "compare", {"expr": "W @ X", "wrt": ["W"], "layout": "numerator"})
    assert status == 200 and "verify proves X.T @ G" in c["relation"]


def test_layout_switch(address):
    status, g = post(address, "gradient", {"expr": "W @ X", "wrt": ["W"], "layout": "numerator"})
    assert status == 200 and g["formula"] == "X @ G.T" and g["layout"] == "numerator"


def test_a_syntax_error_names_its_field_and_column(address):
    status, payload = post(address, "gradient", {"expr": "W @ (X + ", "wrt": ["W"]})
    assert status == 400
    err = payload["error"]
    assert err["field"] == "expr" and err["column"] == 10 and err["text"] == "W @ (X + "
    status, payload = post(address, "verify", {"expr": "W @ X", "wrt": ["W"], "claim": "G @@ X"})
    assert status == 400 and payload["error"]["field"] == "claim" and payload["error"]["column"] == 4
    status, payload = post(address, "gradient", {"expr": "W @ X", "wrt": ["W"], "shape": ["W=2"]})
    assert status == 400 and payload["error"]["field"] == "shape"
    status, payload = post(address, "gradient", {"expr": "W @ X"})
    assert status == 400 and payload["error"]["field"] == "wrt"


@pytest.mark.parametrize("body", [
    {"expr": "<script>alert(1)</script>", "wrt": ["W"]},
    {"expr": "W @ X", "wrt": ["W"], "shape": ["<script>alert(1)</script>=2,2"]},
    {"expr": "W @ X", "wrt": ["<script>"]},
])
def test_script_text_comes_back_as_data_only(address, body):
    status, headers, raw = request(address, "POST", "/api/gradient", json.dumps(body).encode())
    assert status == 400 and headers["Content-Type"].startswith("application/json")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" in json.loads(raw)["error"]["rendered"] + json.dumps(json.loads(raw))


def test_nothing_from_the_request_is_evaluated(address, tmp_path):
    marker = tmp_path / "evaluated"
    for text in (f"__import__('os').system('touch {marker}')", f"exec(\"open('{marker}','w')\")"):
        status, payload = post(address, "gradient", {"expr": text, "wrt": ["W"]})
        assert status == 400 and payload["error"]["kind"] in ("ParseError", "NameKindError", "UnsupportedError")
    assert not marker.exists()


def test_bodies_are_capped_and_checked(address):
    big = json.dumps({"expr": "W" * (web_server.MAX_BODY + 10), "wrt": ["W"]}).encode()
    assert request(address, "POST", "/api/gradient", big)[0] == 413
    assert request(address, "POST", "/api/gradient", b"{not json")[0] == 400
    assert request(address, "POST", "/api/gradient", b"[1, 2]")[0] == 400
    assert request(address, "POST", "/api/gradient", json.dumps({"expr": 5, "wrt": ["W"]}).encode())[0] == 400
    assert request(address, "POST", "/api/gradient", json.dumps({"expr": "W" * 3000, "wrt": ["W"]}).encode())[0] == 400
    assert request(address, "POST", "/api/eval", b"{}")[0] == 404


def test_only_requests_to_the_loopback_name_are_answered(address):
    status, _, _ = request(address, "GET", "/", headers={"Host": "attacker.example:8000"})
    assert status == 403
    status, _, _ = request(address, "POST", "/api/gradient", b"{}", {"Host": "attacker.example"})
    assert status == 403


#: A derivation whose exact step checks take over ten seconds (a hand-written softmax). derive honours its own
#: timeout, so these pools give the job a generous one (job_timeout=60): only the pool's kill stops it in time.
SLOW = {"expr": "exp(W @ X) / sum(exp(W @ X), axis=0)", "wrt": ["W"], "shape": ["W=8,6", "X=6,9"]}


def test_an_overrunning_job_is_killed_and_its_worker_replaced():
    pool = web_pool.Pool(size=1, limit=0.5, grace=0.5, job_timeout=60)
    try:
        first = pool.pids()
        start = time.monotonic()
        assert pool.run("derive", SLOW) is None
        assert time.monotonic() - start < 5
        assert pool.killed == 1 and pool.pids() != first
        for pid in first:
            assert not os.path.exists(f"/proc/{pid}") or "zombie" not in open(f"/proc/{pid}/status").read().lower()
        assert pool.run("gradient", {"expr": "W @ X", "wrt": ["W"]})[1]["formula"] == "G @ X.T"
    finally:
        pool.close()


def test_each_worker_runs_under_the_memory_cap():
    pool = web_pool.Pool(size=1, limit=20.0, memory_mb=1536)
    try:
        assert pool.run("gradient", {"expr": "W @ X", "wrt": ["W"]})[1]["formula"] == "G @ X.T"
        (pid,) = pool.pids()
        line = next(row for row in open(f"/proc/{pid}/limits") if row.startswith("Max address space"))
        assert line.split()[3] == str(1536 * 1024 * 1024), line
    finally:
        pool.close()


def test_the_memory_cap_turns_a_huge_allocation_into_memory_error():
    code = ("from symderiv.web.pool import _cap_memory\n_cap_memory(400)\n"
            "try:\n    bytearray(800 * 1024 * 1024)\nexcept MemoryError:\n    print('capped')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "capped", out.stderr


def test_a_hostile_request_does_not_stall_a_valid_one():
    app = web_server.App(web_pool.Pool(size=2, limit=1.0, grace=0.5, job_timeout=60))
    try:
        results = {}
        slow = threading.Thread(target=lambda: results.setdefault("slow", app.post(
            "/api/derive", json.dumps(SLOW).encode(), "127.0.0.1")))
        slow.start()
        time.sleep(0.2)
        start = time.monotonic()
        status, _, body = app.post("/api/gradient", b'{"expr": "W @ X", "wrt": ["W"]}', "127.0.0.1")
        assert status == 200 and json.loads(body)["formula"] == "G @ X.T"
        assert time.monotonic() - start < 1.5
        slow.join(10)
        assert results["slow"][0] == 504 and b"overran its limit" in results["slow"][2]
    finally:
        app.pool.close()


def test_serve_warns_when_it_binds_another_address(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(web_server, "serve", lambda *a, **k: calls.append((a, k)))
    assert main(["serve", "--host", "0.0.0.0", "--port", "0"]) == 0
    assert "WARNING" in capsys.readouterr().err and calls[0][0][0] == "0.0.0.0"
    assert main(["serve", "--port", "0"]) == 0
    assert "WARNING" not in capsys.readouterr().err and calls[1][0][0] == "127.0.0.1"


# --- the code export: `emit` on /api/gradient, as `symderiv gradient --emit TARGET --forward` ---------------------

#: The two layers of the export tests, with NumPy references for their forward values (not the exported code).
LAYERS = {
    "W @ X": ({"expr": "W @ X", "wrt": ["W"]}, lambda a: a["W"] @ a["X"]),
    "relu(W @ X + b)": (RELU, lambda a: np.maximum(a["W"] @ a["X"] + a["b"], 0.0)),
}
SIZES = {"W": (3, 4), "X": (4, 5), "b": (3, 1), "G": (3, 5)}

#: Runs exported code in a child process (a pytest process that has loaded torch and jax is 1.3 GB larger, and
#: the memory tests measure their children): reads [{target, code, arrays}] as JSON, prints each forward value and
#: gradients, calling the functions with the arrays by their parameters' names.
RUNNER = r"""
import json, sys
import numpy as np
out = []
for job in json.load(sys.stdin):
    if job["target"] == "torch":
        import torch
        conv, back = (lambda v: torch.tensor(v, dtype=torch.float64)), (lambda o: o.detach().numpy().tolist())
    else:
        import jax
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        conv, back = (lambda v: jnp.asarray(v, dtype=jnp.float64)), (lambda o: np.asarray(o).tolist())
    namespace = {}
    exec(job["code"], namespace)
    arrays = {k: conv(v) for k, v in job["arrays"].items()}
    call = lambda f: f(*[arrays[p] for p in f.__code__.co_varnames[:f.__code__.co_argcount]])
    grads = call(next(v for k, v in namespace.items() if k.startswith("grad_")))
    grads = grads if isinstance(grads, tuple) else (grads,)
    out.append({"forward": back(call(namespace["forward"])), "grads": [back(g) for g in grads]})
print(json.dumps(out))
"""


def layer_arrays(seed=0):
    rng = np.random.default_rng(seed)
    return {name: rng.standard_normal(shape) for name, shape in SIZES.items()}


def finite_differences(reference, arrays, name, h=1e-6):
    """∂L/∂name of L = sum(G * reference(arrays)) by central differences, entry by entry."""
    grad = np.zeros_like(arrays[name])
    for index in np.ndindex(grad.shape):
        plus, minus = dict(arrays), dict(arrays)
        plus[name], minus[name] = arrays[name].copy(), arrays[name].copy()
        plus[name][index] += h
        minus[name][index] -= h
        grad[index] = (np.sum(arrays["G"] * reference(plus)) - np.sum(arrays["G"] * reference(minus))) / (2 * h)
    return grad


def run_numpy(code, arrays):
    namespace = {}
    exec(code, namespace)  # the test's own call: the generated code is symderiv's output, not a request's text
    call = lambda f: f(*[arrays[p] for p in f.__code__.co_varnames[:f.__code__.co_argcount]])  # noqa: E731
    grads = call(next(v for k, v in namespace.items() if k.startswith("grad_")))
    return call(namespace["forward"]), grads if isinstance(grads, tuple) else (grads,)


def test_emit_is_the_command_lines_code_export(address):
    for target in ("numpy", "torch", "jax"):
        status, payload = post(address, "gradient", {**RELU, "emit": target, "forward": True})
        out = io.StringIO()
        with redirect_stdout(out):
            code = main(["gradient", "relu(W @ X + b)", "--wrt", "W", "--wrt", "b", "--shape", "b=H,1",
                         "--emit", target, "--forward"])
        assert (status, code) == (200, 0)
        assert payload["code"] == {target: out.getvalue()} and payload["wrt"] == ["W", "b"] and payload["forward"]
    status, payload = post(address, "gradient", {**RELU, "emit": ["numpy", "torch", "jax"]})
    assert status == 200 and sorted(payload["code"]) == ["jax", "numpy", "torch"]
    assert "def forward" not in payload["code"]["numpy"] and "def grad_W_b(G, W, X, b)" in payload["code"]["numpy"]
    assert [g["formula"] for g in payload["gradients"]] == ["(G * step(W @ X + b)) @ X.T",
                                                            "sum(G * step(W @ X + b), axis=1)"]


@pytest.mark.parametrize("body, error", [
    ({"emit": "fortran"}, "emit"), ({"emit": ["numpy", 3]}, "emit"), ({"forward": True}, "forward"),
    ({"emit": "numpy", "forward": "yes"}, "forward"), ({"emit": "__import__('os')"}, "emit")])
def test_emit_rejects_unknown_targets(address, body, error):
    status, payload = post(address, "gradient", {"expr": "W @ X", "wrt": ["W"], **body})
    assert status == 400 and payload["error"]["field"] == error


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_exported_numpy_code_runs_and_matches_finite_differences(address, layer):
    body, reference = LAYERS[layer]
    status, payload = post(address, "gradient", {**body, "emit": "numpy", "forward": True})
    assert status == 200
    arrays = layer_arrays()
    forward, grads = run_numpy(payload["code"]["numpy"], arrays)
    np.testing.assert_allclose(forward, reference(arrays), rtol=1e-12, atol=1e-12)
    assert len(grads) == len(body["wrt"])
    for name, grad in zip(body["wrt"], grads, strict=True):
        assert grad.shape == arrays[name].shape
        np.testing.assert_allclose(grad, finite_differences(reference, arrays, name), rtol=1e-5, atol=1e-6)


def test_a_wrong_gradient_fails_the_finite_difference_check():
    arrays, reference = layer_arrays(), LAYERS["W @ X"][1]
    assert not np.allclose(arrays["G"] @ arrays["X"].T + 1e-3, finite_differences(reference, arrays, "W"), atol=1e-6)


@pytest.mark.parametrize("target", ["torch", "jax"])
def test_exported_framework_code_runs_and_matches_finite_differences(address, target):
    if importlib.util.find_spec(target) is None:
        pytest.skip(f"{target} is not installed (pip install '.[frameworks]')")
    jobs, expected = [], []
    for layer in sorted(LAYERS):
        body, reference = LAYERS[layer]
        status, payload = post(address, "gradient", {**body, "emit": target, "forward": True})
        assert status == 200
        arrays = layer_arrays()
        jobs.append({"target": target, "code": payload["code"][target],
                     "arrays": {k: v.tolist() for k, v in arrays.items()}})
        expected.append((reference(arrays), [finite_differences(reference, arrays, n) for n in body["wrt"]]))
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(jobs), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    for result, (forward, grads) in zip(json.loads(done.stdout), expected, strict=True):
        np.testing.assert_allclose(np.array(result["forward"]), forward, rtol=1e-12, atol=1e-12)
        assert len(result["grads"]) == len(grads)
        for got, want in zip(result["grads"], grads, strict=True):
            np.testing.assert_allclose(np.array(got), want, rtol=1e-5, atol=1e-6)
