"""Saving, loading and pickling: exact round trips, clear errors on bad files."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import hopfield as hf
import numpy as np
import pytest
from hopfield import persist


def _hebbian(threshold: Any = 0.0) -> hf.HopfieldNetwork:
    net = hf.HopfieldNetwork(77, threshold=threshold)
    net.store(hf.random_patterns(6, 77, seed=1))
    net.store(hf.random_patterns(2, 77, seed=2))  # two stores: order must survive
    return net


def _modern(hetero: bool = False, binary: bool = False) -> hf.ModernHopfield:
    rng = np.random.default_rng(3)
    net = hf.ModernHopfield(beta=2.5, threads=1)
    x = rng.choice([-1.0, 1.0], (40, 33)) if binary else rng.standard_normal((40, 33))
    net.store(x, rng.standard_normal((40, 5)) if hetero else None)
    return net


def _dense(interaction: str) -> hf.DenseAssociativeMemory:
    net = hf.DenseAssociativeMemory(
        70, interaction=interaction, degree=4, rectified=False, beta=0.3
    )
    net.store(hf.random_patterns(30, 70, seed=8))
    net.store(hf.random_patterns(9, 70, seed=9))
    return net


def _ising() -> hf.IsingProblem:
    rng = np.random.default_rng(12)
    q = rng.standard_normal((9, 9))
    return hf.IsingProblem.from_qubo(q)


def _rule(rule: str, **kw: Any) -> hf.HopfieldNetwork:
    n = 60
    net = hf.HopfieldNetwork(n, rule=rule, **kw)
    act = kw.get("activity")
    rng = np.random.default_rng(13)
    for count in (4, 3):
        if act is None:
            net.store(hf.random_patterns(count, n, seed=rng))
        else:
            net.store(np.where(rng.random((count, n)) < act, 1, -1))
    return net


def _from_weights() -> hf.HopfieldNetwork:
    rng = np.random.default_rng(14)
    w = rng.standard_normal((50, 50))
    return hf.HopfieldNetwork.from_weights(w + w.T, threshold=0.1)


def _sequence() -> hf.SequenceMemory:
    memory = hf.SequenceMemory(80, cyclic=True)
    memory.store(hf.random_patterns(5, 80, seed=15))
    memory.store(hf.random_patterns(3, 80, seed=16))
    return memory


MODELS: dict[str, Callable[[], Any]] = {
    "ising": _ising,
    "storkey": lambda: _rule("storkey"),
    "pseudoinverse": lambda: _rule("pseudoinverse", zero_diagonal=False),
    "covariance": lambda: _rule("covariance", activity=0.2),
    "diluted-hebbian": lambda: _rule("hebbian", dilution=0.3, seed=5),
    "diluted-storkey": lambda: _rule("storkey", dilution=0.5, seed=6),
    "from-weights": _from_weights,
    "sequence": _sequence,
    "sequence-empty": lambda: hf.SequenceMemory(7),
    "dense-poly": lambda: _dense("polynomial"),
    "dense-exp": lambda: _dense("exponential"),
    "dense-empty": lambda: hf.DenseAssociativeMemory(3),
    "hebbian": _hebbian,
    "hebbian-threshold": lambda: _hebbian(np.linspace(-0.2, 0.3, 77)),
    "hebbian-empty": lambda: hf.HopfieldNetwork(5),
    "modern": _modern,
    "modern-hetero": lambda: _modern(hetero=True),
    "modern-binary": lambda: _modern(binary=True),
    "modern-empty": lambda: hf.ModernHopfield(0.5),
}


def _same(a: Any, b: Any) -> None:
    """The two models hold the same data and retrieve bit-identically."""
    assert type(a) is type(b)
    assert repr(a) == repr(b)
    if isinstance(a, hf.SequenceMemory):
        assert a.cyclic == b.cyclic and len(a.sequences) == len(b.sequences)
        assert np.array_equal(a.items, b.items) and np.array_equal(a.weights, b.weights)
        if len(a.items):
            ra, rb = a.recall(a.items[0], 6), b.recall(b.items[0], 6)
            assert np.array_equal(ra.trajectory, rb.trajectory)
        return
    if isinstance(a, hf.IsingProblem):
        assert np.array_equal(a.couplings, b.couplings) and np.array_equal(a.fields, b.fields)
        ra = a.minimize(restarts=4, sweeps=30, seed=3)
        rb = b.minimize(restarts=4, sweeps=30, seed=3)
        assert np.array_equal(ra.states, rb.states) and np.array_equal(ra.energy, rb.energy)
        return
    if isinstance(a, hf.DenseAssociativeMemory) and a.num_patterns:
        # A dense memory keeps what a retrieval prepared for the engine, and
        # counts it in nbytes: compare both prepared.
        a.retrieve(a.patterns[0], seed=0), b.retrieve(b.patterns[0], seed=0)
    if isinstance(a, hf.HopfieldNetwork) and a.rule == "hebbian" and a.num_patterns:
        # A Hebbian network keeps the layout a retrieval prepared and, after
        # 64 queries, its int8 weights, and counts both in nbytes: bring both
        # sides to that state.
        q = np.repeat(a.patterns[:1], 65, axis=0)
        a.retrieve(q, seed=0), b.retrieve(q, seed=0)
    assert a.nbytes == b.nbytes
    if isinstance(a, hf.HopfieldNetwork) and a.rule != "hebbian":
        assert a.rule == b.rule and a.dilution == b.dilution
        assert np.array_equal(a.weights, b.weights), "learned weights must be bit-identical"
    if isinstance(a, hf.HopfieldNetwork) and a.rule is None:
        q = hf.random_patterns(5, a.n, seed=1)
        ra, rb = a.retrieve(q, update="sync", seed=2), b.retrieve(q, update="sync", seed=2)
        assert np.array_equal(ra.states, rb.states)
        return
    assert np.array_equal(a.patterns, b.patterns)
    if a.num_patterns == 0:
        return
    if isinstance(a, (hf.HopfieldNetwork, hf.DenseAssociativeMemory)):
        if isinstance(a, hf.HopfieldNetwork):
            assert np.array_equal(a.threshold, b.threshold)
        q = hf.corrupt(a.patterns, flip=0.2, seed=4)
        for update in ("async", "sync"):
            ra, rb = a.retrieve(q, update=update, seed=5), b.retrieve(q, update=update, seed=5)
            assert np.array_equal(ra.states, rb.states)
            assert np.array_equal(ra.energy, rb.energy)
    else:
        assert a.beta == b.beta and a.binary == b.binary and a.hetero == b.hetero
        if a.hetero:
            assert np.array_equal(a.values, b.values)
        q = a.patterns[:7] + np.float32(0.3)
        steps = 1 if a.hetero else 2
        ra, rb = a.retrieve(q, steps=steps), b.retrieve(q, steps=steps)
        assert np.array_equal(ra.states, rb.states)


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_save_load_round_trip_is_exact(kind: str, tmp_path: Path) -> None:
    model = MODELS[kind]()
    path = tmp_path / "model.hopfield"
    model.save(path)
    assert sorted(os.listdir(tmp_path)) == ["model.hopfield"], "no suffix, no temporary left"
    _same(model, hf.load(path))
    _same(model, hf.load(str(path)))


@pytest.mark.parametrize("kind", sorted(MODELS))
def test_pickle_round_trip_is_exact_and_small(kind: str) -> None:
    model = MODELS[kind]()
    blob = pickle.dumps(model)
    _same(model, pickle.loads(blob))
    # The pickle is the stored data plus a small fixed overhead.
    if isinstance(model, hf.IsingProblem):
        data = model.couplings.nbytes + model.fields.nbytes  # float64 J and h
    elif isinstance(model, hf.SequenceMemory):
        data = model.items.size // 8 + 8 * model.n  # packed items and thresholds
    elif isinstance(model, hf.HopfieldNetwork) and model.rule is None:
        data = 4 * model.n**2 + 8 * model.n  # float32 weights and thresholds
    elif isinstance(model, hf.HopfieldNetwork) and model.rule != "hebbian":
        data = model.num_patterns * model.n // 8 + 8 * model.n  # packed patterns
    else:
        data = model.nbytes
    assert len(blob) <= data + 1500, (len(blob), data)


def test_hebbian_patterns_stay_bit_packed(tmp_path: Path) -> None:
    net = hf.HopfieldNetwork(1000)
    net.store(hf.random_patterns(200, 1000, seed=0))
    net.save(tmp_path / "m.npz")
    size = (tmp_path / "m.npz").stat().st_size
    # 200 × 1000 bits = 25,000 bytes packed (int8 would be 200,000).
    assert size < 25_000 + 8 * 1000 + 4000, size


def test_save_replaces_atomically_and_failed_save_leaves_target(tmp_path: Path) -> None:
    target = tmp_path / "m.npz"
    _hebbian().save(target)
    before = target.read_bytes()

    class Boom(hf.HopfieldNetwork):
        def _get_state(self) -> persist.State:
            params, arrays = super()._get_state()
            arrays["bad"] = np.array([object()], dtype=object)  # cannot be saved
            return params, arrays

    bad = Boom(5)
    with pytest.raises(ValueError):
        bad.save(target)
    assert target.read_bytes() == before, "a failed save must not touch the target"
    assert sorted(os.listdir(tmp_path)) == ["m.npz"], "the temporary file is removed"


def _rewrite(path: Path, edit: Callable[[dict[str, Any], dict[str, np.ndarray]], None]) -> None:
    """Re-save a file with its header and arrays edited (no checksum update)."""
    with np.load(path, allow_pickle=False) as f:
        members = {k: f[k] for k in f.files}
    header = json.loads(members.pop("__hopfield__").tobytes())
    edit(header, members)
    buffer = io.BytesIO()
    np.savez(
        buffer,
        __hopfield__=np.frombuffer(json.dumps(header).encode(), np.uint8),
        **members,  # type: ignore[arg-type]
    )
    path.write_bytes(buffer.getvalue())


def _flip_bit(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    arrays["patterns"] = arrays["patterns"].copy()
    arrays["patterns"][0, 0] ^= 1


def _version(v: Any) -> Callable[[dict[str, Any], dict[str, np.ndarray]], None]:
    def edit(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        header["version"] = v

    return edit


def _kind(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    header["kind"] = "os.system"


def _drop(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    del arrays["threshold"]


def _inconsistent(header: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    header["params"]["n"] = 12  # the arrays are for n = 77


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_flip_bit, "fails its checksum"),
        (_version(2), "version 2 is not supported"),
        (_version("1"), "version '1' is not supported"),
        (_kind, "unknown model kind 'os.system'"),
        (_drop, "array 'threshold' is missing"),
        (_inconsistent, "inconsistent HopfieldNetwork state"),
    ],
)
def test_tampered_files_are_refused(edit: Any, message: str, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    _hebbian().save(path)
    _rewrite(path, edit)
    with pytest.raises(ValueError, match=message):
        hf.load(path)


@pytest.mark.parametrize("keep", [0, 10, 100, 1000, -22])
def test_truncated_files_are_refused(keep: int, tmp_path: Path) -> None:
    path = tmp_path / "m.npz"
    _hebbian().save(path)
    data = path.read_bytes()
    path.write_bytes(data[:keep] if keep >= 0 else data[:keep])
    with pytest.raises(ValueError, match="not a readable hopfield model file"):
        hf.load(path)


def test_corrupted_member_bytes_are_refused(tmp_path: Path) -> None:
    """Damage inside the zip (the CRC or our digest catches it)."""
    path = tmp_path / "m.npz"
    _hebbian().save(path)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as z:
        info = z.getinfo("patterns.npy")
    data[info.header_offset + 200] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="not a readable hopfield model file"):
        hf.load(path)


def test_foreign_files_are_refused(tmp_path: Path) -> None:
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.arange(3))
    with pytest.raises(ValueError, match="no hopfield header"):
        hf.load(plain)
    npy = tmp_path / "a.npy"
    np.save(npy, np.arange(3))
    with pytest.raises(ValueError, match="not an .npz archive"):
        hf.load(npy)
    text = tmp_path / "t.txt"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not a readable hopfield model file"):
        hf.load(text)


def test_pickles_inside_files_are_never_loaded(tmp_path: Path) -> None:
    """A file whose member is a pickle is refused, never unpickled."""
    path = tmp_path / "evil.npz"
    _hebbian().save(path)
    evil = np.array([{"payload": 1}], dtype=object)
    _rewrite(path, lambda h, a: a.__setitem__("threshold", evil))
    with pytest.raises(ValueError, match="not a readable hopfield model file"):
        hf.load(path)


def test_load_and_save_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hf.load(tmp_path / "missing.npz")
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        hf.load(3)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model must be a hopfield model"):
        hf.save([1, 2], tmp_path / "x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        _hebbian().save(None)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        _hebbian().save(tmp_path / "no" / "such" / "dir.npz")
