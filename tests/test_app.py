"""``hopfield app``'s JSON endpoints, against the NumPy reference and the library,
and its refusals: every bad request gets a 4xx with a message, never a 5xx.

The page itself is tested in a real browser in ``tests/test_app_browser.py``.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref
from hopfield.app import api, payload, server
from hopfield.app.glyphs import DIGITS, glyph_grid
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

LETTERS_ABC, SHAPE = hf.letter_patterns("ABC")


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(server.create_app())


def post(client: TestClient, path: str, body: Any) -> Any:
    resp = client.post(f"/api/{path}", json=body)
    assert resp.status_code == 200, resp.text
    return resp.json()


def update_body(state: np.ndarray, patterns: np.ndarray, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shape": list(kw.pop("shape", SHAPE)),
        "patterns": patterns.tolist(),
        "model": kw.pop("model", {"kind": "hebbian"}),
        "state": state.tolist(),
        "action": kw.pop("action", "sync"),
    }
    body.update(kw)
    return body


# ---------------------------------------------------------------------------
# the page


def test_the_page_and_its_files_are_served_and_load_nothing_from_elsewhere(
    client: TestClient,
) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert page.headers["content-security-policy"].startswith("default-src 'self'")
    for tab in ("Draw and retrieve", "β: averaging", "Energy landscape"):
        assert tab in page.text
    for name in ("app.js", "app.css"):
        assert client.get(f"/static/{name}").status_code == 200
    for path in server.STATIC.iterdir():
        text = path.read_text(encoding="utf-8")
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, path
    info = client.get("/api/info").json()
    assert info["limits"]["max_side"] == 32 and "pseudoinverse" in info["kinds"]


# ---------------------------------------------------------------------------
# memories and corruption


def test_memory_sets_are_the_fonts_on_every_grid(client: TestClient) -> None:
    data = post(client, "memories", {"set": "A-C", "shape": [9, 7]})
    assert data["labels"] == ["A", "B", "C"]
    assert np.array_equal(data["patterns"], LETTERS_ABC)
    digits = post(client, "memories", {"set": "0-9", "shape": [9, 7]})
    assert digits["labels"] == list("0123456789")
    assert len({tuple(p) for p in digits["patterns"]}) == 10
    assert sorted(DIGITS) == list("0123456789")
    big = post(client, "memories", {"set": "A-Z", "shape": [32, 32]})
    pats = np.array(big["patterns"])
    assert pats.shape == (26, 1024) and set(np.unique(pats)) == {-1, 1}
    # the 32 × 32 "A" is the 9 × 7 one, resampled: every font pixel is a block
    a = pats[0].reshape(32, 32)
    assert (a[0] == -1).all() and (a[:, 0] == -1).all()  # the margin
    assert (a == 1).sum() > 9 * (LETTERS_ABC[0] == 1).sum()
    rnd = post(client, "memories", {"set": "random", "shape": [16, 16], "count": 5, "seed": 9})
    assert np.array_equal(rnd["patterns"], hf.random_patterns(5, 256, seed=9))


def test_glyph_grid_keeps_the_font_at_its_own_size() -> None:
    assert np.array_equal(glyph_grid("B", (9, 7)), LETTERS_ABC[1])
    g = glyph_grid("B", (16, 16)).reshape(16, 16)
    assert (g[0] == -1).all() and (g[-1] == -1).all() and (g == 1).any()


def test_corrupt_is_the_library_corrupt(client: TestClient) -> None:
    data = post(
        client,
        "corrupt",
        {"shape": [9, 7], "state": LETTERS_ABC[0].tolist(), "percent": 20, "seed": 5},
    )
    assert np.array_equal(data["state"], hf.corrupt(LETTERS_ABC[0], flip=0.2, seed=5))
    assert (np.array(data["state"]) != LETTERS_ABC[0]).sum() == round(0.2 * 63)


# ---------------------------------------------------------------------------
# updates, against the reference


def test_sync_step_equals_the_reference(client: TestClient) -> None:
    q = hf.corrupt(LETTERS_ABC, flip=0.2, seed=1)
    for row in q:
        data = post(client, "update", update_body(row, LETTERS_ABC))
        expected = ref.retrieve_sync(LETTERS_ABC, row[None], max_sweeps=1)
        assert np.array_equal(data["state"], expected.states[0])
        assert data["energy"] == pytest.approx(ref.energy(LETTERS_ABC, expected.states)[0])
        assert data["sweeps"] == 1
        assert np.allclose(data["overlaps"], LETTERS_ABC @ expected.states[0] / 63)


def test_sweep_is_the_reference_neuron_by_neuron(client: TestClient) -> None:
    pats = hf.random_patterns(6, 100, seed=2)
    q = hf.corrupt(pats[0], flip=0.3, seed=3)
    data = post(client, "update", update_body(q, pats, shape=[10, 10], action="sweep", seed=11))
    orders = hf.sweep_orders(100, 1, seed=11)
    assert np.array_equal(data["order"], orders[0, 0])
    expected = ref.retrieve_async(pats, q[None], orders, max_sweeps=1)
    assert np.array_equal(data["state"], expected.states[0])
    # the energy after every single update: the reference's, never rising
    e = np.array(data["energies"])
    assert len(e) == 101
    cur = q.copy()
    for k, i in enumerate(orders[0, 0]):
        cur[i] = expected.states[0, i]
        assert e[k + 1] == pytest.approx(ref.energy(pats, cur[None])[0])
    assert (np.diff(e) <= 1e-12).all() and e[-1] < e[0]


def test_converge_runs_sweeps_until_nothing_flips(client: TestClient) -> None:
    pats = hf.random_patterns(5, 144, seed=4)
    q = hf.corrupt(pats[2], flip=0.25, seed=5)
    data = post(client, "update", update_body(q, pats, shape=[12, 12], action="converge", seed=8))
    seeds = np.random.default_rng(8).integers(0, 2**63, size=payload.MAX_SWEEPS)
    cur = q
    for t, frame in enumerate(data["frames"]):
        orders = hf.sweep_orders(144, 1, seed=int(seeds[t]))
        cur = ref.retrieve_async(pats, cur[None], orders, max_sweeps=1).states[0]
        assert np.array_equal(frame, cur)
    assert data["frames"][-1] == data["frames"][-2]  # the last sweep flipped nothing
    assert data["converged"] and np.array_equal(data["state"], pats[2])
    assert data["reached"]["category"] == "stored" and data["reached"]["index"] == 2
    assert (np.diff(data["frame_energies"]) <= 1e-12).all()


def test_stochastic_sweeps_are_the_reference_glauber(client: TestClient) -> None:
    pats = hf.random_patterns(3, 64, seed=6)
    q = hf.corrupt(pats[0], flip=0.2, seed=7)
    body = update_body(q, pats, shape=[8, 8], action="converge", temperature=0.7, max_sweeps=6)
    data = post(client, "update", {**body, "seed": 21})
    assert len(data["frames"]) == 6
    seeds = np.random.default_rng(21).integers(0, 2**63, size=6)
    cur = q[None]
    for t, frame in enumerate(data["frames"]):
        s = int(seeds[t])
        orders = hf.sweep_orders(64, 1, seed=s)
        u = hf.acceptance_uniforms(64, 1, seed=s)
        cur, _ = ref.glauber_hebbian(pats, cur, orders, u, [0.7])
        assert np.array_equal(frame, cur[0])


def test_dense_and_modern_models_equal_their_references(client: TestClient) -> None:
    pats = hf.random_patterns(8, 49, seed=12)
    q = hf.corrupt(pats[1], flip=0.2, seed=13)
    dense = post(
        client, "update", update_body(q, pats, shape=[7, 7], model={"kind": "dense", "degree": 4})
    )
    expected = ref.dense_retrieve_sync(pats, q[None], degree=4, max_sweeps=1)
    assert np.array_equal(dense["state"], expected.states[0])
    expo = post(
        client,
        "update",
        update_body(q, pats, shape=[7, 7], model={"kind": "exponential", "beta": 0.5}),
    )
    expected = ref.dense_retrieve_sync(
        pats, q[None], interaction="exponential", beta=0.5, max_sweeps=1
    )
    assert np.array_equal(expo["state"], expected.states[0])
    modern = post(
        client, "update", update_body(q, pats, shape=[7, 7], model={"kind": "modern", "beta": 0.2})
    )
    expected = ref.modern_update(pats, q[None], 0.2)[0]
    np.testing.assert_allclose(modern["state"], expected, rtol=1e-5, atol=1e-6)


def test_rules_recall_letters_and_name_what_they_reached(client: TestClient) -> None:
    letters, shape = hf.letter_patterns("ABCDEFG")
    q = letters[3].copy()
    q[[3, 20, 40]] *= -1
    data = post(
        client,
        "update",
        update_body(
            q,
            letters,
            shape=shape,
            model={"kind": "pseudoinverse"},
            action="converge",
            seed=1,
            labels=list("ABCDEFG"),
        ),
    )
    assert np.array_equal(data["state"], letters[3])
    assert data["reached"]["text"] == "memory D"
    # Hebbian on all 26 letters: too correlated, it settles on something else
    many, _ = hf.letter_patterns("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    data = post(client, "update", update_body(many[0], many, shape=shape, action="converge"))
    assert data["converged"] and data["reached"]["category"] != "stored"
    assert data["reached"]["text"].startswith(("a spurious", "near", "the reverse"))


# ---------------------------------------------------------------------------
# the β panel and the landscape


def test_beta_panel_equals_the_reference_and_sharpens(client: TestClient) -> None:
    letters, _ = hf.letter_patterns("ABCDEFG")
    q = hf.corrupt(letters[4], flip=0.1, seed=2).astype(float)
    peaks = []
    for beta in (0.01, 0.1, 1.0, 10.0, 100.0):
        data = post(
            client, "beta", {"patterns": letters.tolist(), "query": q.tolist(), "beta": beta}
        )
        np.testing.assert_allclose(
            data["weights"], ref.modern_attention(letters, q, beta), rtol=1e-6, atol=1e-12
        )
        np.testing.assert_allclose(
            data["state"], ref.modern_update(letters, q[None], beta)[0], rtol=1e-5, atol=1e-5
        )
        peaks.append(max(data["weights"]))
    assert peaks == sorted(peaks) and peaks[0] < 0.2 and peaks[-1] > 0.999


def test_landscape_enumerates_every_state(client: TestClient) -> None:
    body = {"n": 10, "p": 3, "model": {"kind": "hebbian"}, "seed": 4}
    data = post(client, "landscape", body)
    pats = hf.random_patterns(3, 10, seed=4)
    states = ref.all_states(10)
    energy = ref.energy(pats, states)
    assert data["states"] == 1024
    assert data["energy_range"] == pytest.approx([energy.min(), energy.max()])
    # a cell: the lowest energy of the states projected nearest to its centre
    axes = np.linalg.svd(pats.astype(np.float64), full_matrices=True)[2][:2]
    xy = states @ axes.T
    lo, hi = data["extent"]
    bins = data["bins"]
    rng = np.random.default_rng(0)
    for r, c in rng.integers(0, bins, (40, 2)):
        centre = lo + (np.array([c, r]) + 0.5) / bins * (hi - lo)
        d = np.hypot(*(xy - centre).T)
        at = np.abs(d - d.min()) < 1e-7
        assert data["grid"][r][c] == pytest.approx(energy[at].min())
    assert len(data["minima"]) == ref.is_fixed_point(pats, states).sum()
    stored = [m for m in data["minima"] if m["category"] == "stored"]
    assert len(stored) == sum(bool(ref.is_fixed_point(pats, p[None])[0]) for p in pats)


def test_trajectory_runs_downhill_to_a_fixed_point(client: TestClient) -> None:
    body = {"n": 12, "p": 3, "model": {"kind": "hebbian"}, "seed": 1}
    land = post(client, "landscape", body)
    pats = hf.random_patterns(3, 12, seed=1)
    axes = np.linalg.svd(pats.astype(np.float64), full_matrices=True)[2][:2]  # the map's axes
    assert np.allclose(pats @ axes.T, [[m["x"], m["y"]] for m in land["memories"]])
    ends = []
    for k, m in enumerate(land["memories"]):
        for scale in (1.0, 0.6, 0.2):
            t = post(
                client,
                "trajectory",
                {**body, "x": scale * m["x"], "y": scale * m["y"], "start_seed": k, "run_seed": 3},
            )
            e = np.array(t["energies"])
            assert len(t["points"]) == len(e) == t["flips"] + 1
            assert (np.diff(e) < 0).all()  # every flip lowers the energy
            assert t["converged"] and ref.is_fixed_point(pats, np.array([t["end"]]))[0]
            ends.append(t["reached"]["category"])
            # it starts at a state projected nearest to the click
            start = np.array(t["start"]) @ axes.T
            projected = ref.all_states(12) @ axes.T
            click = np.array([scale * m["x"], scale * m["y"]])
            best = np.hypot(*(projected - click).T).min()
            assert np.hypot(*(start - click)) == pytest.approx(best, abs=1e-9)
            assert np.allclose(t["points"][0], start)
    assert "stored" in ends


# ---------------------------------------------------------------------------
# bad requests: 4xx with a message, never 5xx

GOOD = update_body(LETTERS_ABC[0], LETTERS_ABC)


def _with(**changes: Any) -> dict[str, Any]:
    body = json.loads(json.dumps(GOOD))
    body.update(changes)
    return body


BAD_JSON = [
    ("update", b"{", 400, "not valid JSON"),
    ("update", b"", 400, "not valid JSON"),
    ("update", b"\xff\xfe", 400, "not valid JSON"),
    ("update", b"[1, 2]", 400, "must be a JSON object"),
    ("update", b"null", 400, "must be a JSON object"),
    ("update", b"[" * 100_000 + b"]" * 100_000, 400, "not valid JSON"),
    ("beta", b'{"patterns": [[NaN]], "query": [1], "beta": 1}', 422, "finite number"),
    ("beta", b'{"patterns": [[1e999]], "query": [1], "beta": 1}', 422, "finite number"),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), BAD_JSON)
def test_malformed_json_is_refused(
    client: TestClient, path: str, body: bytes, status: int, message: str
) -> None:
    resp = client.post(f"/api/{path}", content=body)
    assert resp.status_code == status, resp.text
    assert message in resp.json()["error"]


N = 63
BAD_VALUES = [
    (_with(shape="9x7"), "shape must be [rows, columns]"),
    (_with(shape=[33, 33]), "shape[0] must be in [2, 32]"),
    (_with(shape=[1000, 1000]), "shape[0] must be in [2, 32]"),
    (_with(shape=[9.0, 7]), "shape[0] must be an integer"),
    (_with(shape=[True, 7]), "shape[0] must be an integer"),
    (_with(state=[0] * N), "state[0] must be 1 or -1, got 0"),
    (_with(state=[1] * 62 + [2]), "state[62] must be 1 or -1, got 2"),
    (_with(state=[1.0] * N), "state[0] must be 1 or -1, got 1.0"),
    (_with(state=[True] * N), "state[0] must be 1 or -1, got true"),
    (_with(state=["1"] * N), 'state[0] must be 1 or -1, got "1"'),
    (_with(state=[1] * 62), "state must have 63 cells"),
    (_with(state=[1] * 10_000_000 if False else [1] * 100_000), "state must have 63 cells"),
    (_with(state={"a": 1}), "state must be an array"),
    (_with(patterns=[[1] * N] * 65), "patterns must hold 1 to 64 rows"),
    (_with(patterns=[]), "patterns must hold 1 to 64 rows"),
    (_with(patterns=[[1] * 62]), "patterns[0] must have 63 cells"),
    (_with(patterns="ABC"), "patterns must be an array of rows"),
    (_with(model={"kind": "perceptron"}), "kind must be one of"),
    (_with(model="hebbian"), "model must be an object"),
    (_with(model={"kind": "dense", "degree": 99}), "degree must be in [2, 8]"),
    (_with(model={"kind": "modern", "beta": 0}), "beta must be in [0.01, 100]"),
    (_with(model={"kind": "exponential", "beta": "big"}), "beta must be a number"),
    (_with(action="jump"), "action must be one of"),
    (_with(temperature=-1), "temperature must be in [0, 10]"),
    (_with(temperature=1.0), "stochastic updates (temperature > 0) are asynchronous"),
    (_with(max_sweeps=10**9), "max_sweeps must be in [1, 200]"),
    (_with(seed=-1), "seed must be in"),
    (_with(seed=2**80), "seed must be in"),
    (_with(labels=["A"]), "labels must be an array of 3 strings"),
    (_with(model={"kind": "modern"}, action="sweep"), "the modern network updates"),
    (
        _with(patterns=[LETTERS_ABC[0].tolist()] * 2, model={"kind": "pseudoinverse"}),
        "linearly dependent",
    ),  # the library's own ValueError, passed on
    ({"shape": [9, 7]}, "model is required"),
]


@pytest.mark.parametrize(("body", "message"), BAD_VALUES)
def test_bad_values_get_422_naming_the_field(
    client: TestClient, body: dict[str, Any], message: str
) -> None:
    resp = client.post("/api/update", json=body)
    assert resp.status_code == 422, resp.text
    assert message in resp.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("memories", {"set": "greek", "shape": [9, 7]}, "set must be one of"),
        ("memories", {"set": "random", "shape": [9, 7], "count": 0}, "count must be in"),
        ("corrupt", {"shape": [9, 7], "state": [1] * 63, "percent": 101}, "percent must be in"),
        ("beta", {"patterns": [[1, 2]], "query": [1, 2], "beta": 1000}, "beta must be in"),
        ("beta", {"patterns": [[1, 2]], "query": [1], "beta": 1}, "query must have 2 cells"),
        ("beta", {"patterns": [[1] * 2000], "query": [1], "beta": 1}, "patterns must be an array"),
        ("landscape", {"n": 30, "model": {"kind": "hebbian"}}, "n must be in [4, 14]"),
        ("landscape", {"n": 8, "p": 9, "model": {"kind": "hebbian"}}, "p must be in [2, 8]"),
        ("landscape", {"model": {"kind": "modern"}}, "the landscape is of binary models"),
        ("trajectory", {"model": {"kind": "hebbian"}, "x": "left", "y": 0}, "x must be a number"),
    ],
)
def test_every_endpoint_refuses_bad_values(
    client: TestClient, path: str, body: dict[str, Any], message: str
) -> None:
    resp = client.post(f"/api/{path}", json=body)
    assert resp.status_code == 422, resp.text
    assert message in resp.json()["error"]


def test_huge_bodies_are_refused_before_they_are_read(client: TestClient) -> None:
    big = b'{"x": "' + b"a" * (payload.MAX_BODY_BYTES + 10) + b'"}'
    resp = client.post("/api/update", content=big)
    assert resp.status_code == 413 and "the most is" in resp.json()["error"]

    def chunks() -> Any:  # no Content-Length: counted as it streams
        for _ in range(payload.MAX_BODY_BYTES // 65536 + 2):
            yield b" " * 65536

    resp = client.post("/api/update", content=chunks())
    assert resp.status_code == 413 and "exceeds" in resp.json()["error"]


def test_wrong_methods_and_paths_are_4xx(client: TestClient) -> None:
    assert client.get("/api/update").status_code == 405
    assert client.post("/api/nothing", json={}).status_code == 404
    assert client.get("/static/../server.py").status_code == 404
    resp = client.post("/api/update", content=b"{}", headers={"content-length": "x"})
    assert 400 <= resp.status_code < 500


def test_the_loopback_server_answers_loopback_names_only() -> None:
    local = TestClient(server.create_app(allowed_hosts=list(server.LOOPBACK_NAMES)))
    assert local.get("/", headers={"host": "localhost:8765"}).status_code == 200
    assert local.get("/", headers={"host": "evil.example:8765"}).status_code == 400


# ---------------------------------------------------------------------------
# a real server: slow requests do not stall other tabs


def _get(url: str) -> tuple[int, float]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as resp:
        resp.read()
        return resp.status, time.perf_counter() - t0


def test_a_slow_request_does_not_stall_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(server, "BODY_TIMEOUT_S", 2.0)
    with server.running() as url:
        host, port = url.split("//")[1].strip("/").split(":")
        slow = socket.create_connection((host, int(port)))
        slow.sendall(
            b"POST /api/update HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        )
        # meanwhile another tab is served at once
        status, _ = _get(url + "api/info")
        assert status == 200
        # and a big request computes in a worker thread while small ones are answered
        big = update_body(
            hf.random_patterns(1, 1024, seed=0)[0],
            hf.random_patterns(64, 1024, seed=1),
            shape=[32, 32],
            model={"kind": "storkey"},
            action="converge",
        )
        done: list[int] = []

        def send_big() -> None:
            req = urllib.request.Request(
                url + "api/update",
                data=json.dumps(big).encode(),
                headers={"Content-Type": "application/json"},
            )
            with urllib.request.urlopen(req, timeout=60) as resp:
                done.append(resp.status)

        worker = threading.Thread(target=send_big)
        worker.start()
        assert _get(url)[0] == 200
        worker.join(60)
        assert done == [200]
        # the slow body is refused once its time is up
        slow.settimeout(10)
        answer = b""
        while b"did not arrive" not in answer:
            chunk = slow.recv(4096)
            if not chunk:
                break
            answer += chunk
        slow.close()
        answer = answer.decode()
        assert answer.startswith("HTTP/1.1 408") and "did not arrive within 2 s" in answer


def test_the_command_prints_the_address_and_serves() -> None:
    import subprocess
    import sys

    with subprocess.Popen(
        [sys.executable, "-m", "hopfield", "app", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            assert line.startswith("hopfield app: serving on http://127.0.0.1:"), line
            url = line.split()[4]
            assert _get(url)[0] == 200
            assert _get(url + "static/app.js")[0] == 200
        finally:
            proc.terminate()
            proc.wait(20)


def test_the_command_refuses_a_bad_port(capsys: pytest.CaptureFixture[str]) -> None:
    from hopfield.lab.cli import main

    with pytest.raises(SystemExit):
        main(["app", "--port", "70000"])
    assert "expected a port in [0, 65535]" in capsys.readouterr().err
    with server.running() as url:  # a taken port: exit status 2 and a message
        port = url.rstrip("/").rsplit(":", 1)[1]
        assert main(["app", "--port", port]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_model_cache_reuses_and_evicts() -> None:
    cache = api.ModelCache(size=2)
    built: list[int] = []

    def build(k: int) -> Any:
        return lambda: built.append(k) or k

    a = np.ones((2, 3), dtype=np.int8)
    assert cache.get(("x",), a, build(1)) == 1
    assert cache.get(("x",), a.copy(), build(2)) == 1  # same patterns: cached
    assert cache.get(("x",), -a, build(3)) == 3
    assert cache.get(("y",), a, build(4)) == 4
    assert cache.get(("x",), a, build(5)) == 5  # evicted by the two after it
    assert built == [1, 3, 4, 5]


# ---------------------------------------------------------------------------
# fuzzed: whatever the page sends, the answer is 200 or a 4xx with a message


_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.sampled_from(
        [
            "hebbian",
            "storkey",
            "pseudoinverse",
            "dense",
            "exponential",
            "modern",
            "sync",
            "sweep",
            "converge",
            "async",
            "A-C",
            "0-9",
            "random",
        ]
    ),
)
_CELLS = st.lists(st.sampled_from([1, -1]), min_size=0, max_size=80)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


def _field(key: str) -> st.SearchStrategy[Any]:
    small = st.integers(-3, 40)
    special = {
        "shape": st.one_of(st.lists(small, min_size=2, max_size=2), _JSON),
        "state": st.one_of(_CELLS, _JSON),
        "query": st.one_of(st.lists(st.floats(-2, 2), max_size=70), _JSON),
        "patterns": st.one_of(st.lists(_CELLS, min_size=1, max_size=5), _JSON),
        "model": st.one_of(
            st.fixed_dictionaries(
                {
                    "kind": _SCALARS,
                    "degree": st.one_of(small, _SCALARS),
                    "beta": st.one_of(st.floats(-1, 200), _SCALARS),
                }
            ),
            _JSON,
        ),
    }
    return special.get(key, st.one_of(small, st.floats(-1, 300), _SCALARS))


_KEYS = [
    "shape",
    "state",
    "patterns",
    "model",
    "action",
    "temperature",
    "seed",
    "max_sweeps",
    "set",
    "count",
    "percent",
    "beta",
    "query",
    "n",
    "p",
    "x",
    "y",
    "labels",
    "update",
]


@st.composite
def _bodies(draw: Any) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(_KEYS), unique=True, max_size=len(_KEYS)))
    return {k: draw(_field(k)) for k in keys}


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(path=st.sampled_from(sorted(server.ENDPOINTS)), body=_bodies())
def test_fuzzed_requests_never_get_a_server_error(
    client: TestClient, path: str, body: dict[str, Any]
) -> None:
    resp = client.post(f"/api/{path}", content=json.dumps(body, allow_nan=True))
    assert resp.status_code == 200 or 400 <= resp.status_code < 500, (resp.status_code, resp.text)
    if resp.status_code != 200:
        assert resp.json()["error"]
