"""SequenceMemory: the asymmetric sequence rule against the NumPy reference,
and exact replay from a corrupted start."""

from __future__ import annotations

import hopfield as hf
import numpy as np
import pytest
from hopfield import reference as ref

ASSERT_EQ = np.testing.assert_array_equal


def test_ten_step_replay_from_a_corrupted_start() -> None:
    n = 500
    items = hf.random_patterns(11, n, seed=0)
    mem = hf.SequenceMemory(n)
    mem.store(items)
    start = hf.corrupt(items[0], flip=0.1, seed=1)
    rec = mem.recall(start, steps=10)
    assert rec.trajectory.shape == (11, n)
    ASSERT_EQ(rec.trajectory[0], start)
    ASSERT_EQ(rec.trajectory[1:], items[1:])
    ASSERT_EQ(rec.position, np.arange(11))
    ASSERT_EQ(rec.sequence, 0)
    assert rec.exact[1:].all() and not rec.exact[0]
    np.testing.assert_allclose(rec.overlap[0], (start * items[0]).mean())
    ASSERT_EQ(rec.trajectory, ref.sequence_recall(mem.weights, start, 10))


def test_weights_match_the_reference_and_cyclic_wraps() -> None:
    n = 300
    a = hf.random_patterns(6, n, seed=2)
    b = hf.random_patterns(4, n, seed=3)
    mem = hf.SequenceMemory(n, cyclic=True)
    mem.store(a)
    mem.store(b)
    ASSERT_EQ(mem.weights, ref.quantize_weights(ref.sequence_weights([a, b], cyclic=True)))
    assert len(mem.sequences) == 2 and mem.items.shape == (10, n)
    starts = np.stack([hf.corrupt(a[4], flip=0.1, seed=4), hf.corrupt(b[1], flip=0.1, seed=5)])
    rec = mem.recall(starts, steps=8)
    assert rec.trajectory.shape == (2, 9, n)
    ASSERT_EQ(rec.position[0, 1:], (4 + np.arange(1, 9)) % 6)
    ASSERT_EQ(rec.position[1, 1:], (1 + np.arange(1, 9)) % 4)
    ASSERT_EQ(rec.sequence, [[0] * 9, [1] * 9])
    ASSERT_EQ(rec.item[1, 1:], 6 + rec.position[1, 1:])
    for q in range(2):
        ASSERT_EQ(rec.trajectory[q], ref.sequence_recall(mem.weights, starts[q], 8))
    open_mem = hf.SequenceMemory(n)
    open_mem.store(a)
    ASSERT_EQ(open_mem.weights, ref.quantize_weights(ref.sequence_weights([a])))


def test_bad_input_is_refused() -> None:
    mem = hf.SequenceMemory(20)
    with pytest.raises(ValueError, match="nothing is stored"):
        mem.recall(np.ones(20), steps=3)
    with pytest.raises(ValueError, match="at least 2 items"):
        mem.store(np.ones((1, 20)))
    with pytest.raises(ValueError, match=r"\(L, n = 20\)"):
        mem.store(np.ones((3, 21)))
    with pytest.raises(ValueError, match="sequence"):
        mem.store(np.full((3, 20), 0.5))
    mem.store(hf.random_patterns(3, 20, seed=0))
    with pytest.raises(ValueError, match="steps"):
        mem.recall(np.ones(20), steps=-1)
    with pytest.raises(ValueError, match="start"):
        mem.recall(np.ones(19), steps=1)
    with pytest.raises(TypeError, match="cyclic"):
        hf.SequenceMemory(20, cyclic="yes")
    assert mem.recall(np.ones(20), steps=0).trajectory.shape == (1, 20)
    assert "SequenceMemory(n=20" in repr(mem)


def test_forget_equals_never_storing() -> None:
    n = 200
    seqs = [hf.random_patterns(k, n, seed=10 + k) for k in (5, 3, 4)]
    for cyclic in (False, True):
        mem = hf.SequenceMemory(n, cyclic=cyclic, threshold=0.25)
        for s in seqs:
            mem.store(s)
        mem.forget(1)
        fresh = hf.SequenceMemory(n, cyclic=cyclic, threshold=0.25)
        fresh.store(seqs[0])
        fresh.store(seqs[2])
        ASSERT_EQ(mem.weights, fresh.weights)
        ASSERT_EQ(mem.items, fresh.items)
        want = ref.quantize_weights(ref.sequence_weights([seqs[0], seqs[2]], cyclic=cyclic))
        ASSERT_EQ(mem.weights, want)
        start = hf.corrupt(seqs[2][0], flip=0.05, seed=1)
        ASSERT_EQ(mem.recall(start, steps=3).trajectory, fresh.recall(start, steps=3).trajectory)
        assert mem.recall(start, steps=3).sequence[-1] == 1  # now the second one
        mem.forget([])  # nothing
        assert len(mem.sequences) == 2
        mem.forget([-1, 0])
        assert mem.sequences == [] and not mem.weights.any()
        with pytest.raises(ValueError, match="nothing is stored"):
            mem.recall(start, steps=1)


def test_forget_refuses_bad_indices() -> None:
    mem = hf.SequenceMemory(30)
    mem.store(hf.random_patterns(3, 30, seed=0))
    mem.store(hf.random_patterns(2, 30, seed=1))
    with pytest.raises(IndexError, match=r"\[-2, 2\) \(the 2 stored sequences\)"):
        mem.forget(2)
    with pytest.raises(ValueError, match="distinct"):
        mem.forget([0, -2])
    with pytest.raises(TypeError, match="bool"):
        mem.forget(True)
    assert len(mem.sequences) == 2
