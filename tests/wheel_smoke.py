"""What a user does first with an installed wheel, run in a fresh environment.

Not a test module (pytest does not collect it): ``tests/test_wheel.py`` runs it
with the interpreter of a fresh virtual environment, natively and under an
emulated CPU. It stores, retrieves (checked bit for bit against the NumPy
reference), saves, loads and pickles, then prints one JSON line with where
hopfield was imported from, its version and the kernel level in use.
"""

import json
import pickle
import sys
import tempfile
from pathlib import Path

import hopfield as hf
import numpy as np
from hopfield import reference

patterns = hf.random_patterns(20, 256, seed=0)
net = hf.HopfieldNetwork(256)
net.store(patterns)
queries = hf.corrupt(patterns, flip=0.1, seed=1)

sync = net.retrieve(queries, update="sync", max_sweeps=20)
expected = reference.retrieve_sync(patterns, queries, max_sweeps=20)
assert (sync.states == expected.states).all(), "sync retrieval differs from the NumPy reference"
assert (sync.states == patterns).all(), "sync retrieval did not recall the stored patterns"

orders = hf.sweep_orders(256, 20, seed=2, count=len(queries))
run = net.retrieve(queries, update="async", seed=2, max_sweeps=20)
replay = reference.retrieve_async_batched(patterns, queries, orders, max_sweeps=20)
assert (run.states == replay.states).all(), "async retrieval differs from the NumPy reference"

with tempfile.TemporaryDirectory() as folder:
    path = Path(folder) / "smoke.hopfield"
    net.save(path)
    loaded = hf.load(path)
again = loaded.retrieve(queries, update="async", seed=2, max_sweeps=20)
assert (again.states == run.states).all(), "a loaded network retrieves differently"
copy = pickle.loads(pickle.dumps(net))
assert (copy.retrieve(queries, update="sync", max_sweeps=20).states == sync.states).all()

modern = hf.ModernHopfield(beta=4.0)
keys = np.random.default_rng(3).standard_normal((50, 16)).astype(np.float32)
modern.store(keys)
got = modern.retrieve(keys[:5]).states
want = reference.modern_update(keys, keys[:5], 4.0, dtype=np.float32)
np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)

print(
    json.dumps(
        {
            "file": hf.__file__,
            "version": hf.__version__,
            "python": list(sys.version_info[:2]),
            "simd_level": hf.simd_level(),
            "detected_simd": hf.detected_simd(),
        }
    )
)
