"""symderiv serve: the JSON API, its limits and its safety, against a real server on a free loopback port."""

from __future__ import annotations

import http.client
import io
import json
import os
import threading
import time
from contextlib import redirect_stdout

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
