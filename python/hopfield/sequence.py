"""Sequence memory: an asymmetric Hopfield network that replays stored sequences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import _forget, _validate
from ._core import RetrieveOptions, Weights, overlap_matrix, sequence_weights
from .persist import Persistent, State, pack_spins, unpack_spins
from .spins import as_spins


@dataclass(frozen=True)
class SequenceRecall:
    """The result of :meth:`SequenceMemory.recall`.

    For a single start ``(N,)`` the batch axis is dropped.

    Attributes
    ----------
    trajectory : numpy.ndarray
        ``int8`` ``(B, steps + 1, N)``: the start, then the state after each
        synchronous step.
    item : numpy.ndarray
        ``int64`` ``(B, steps + 1)``: for each state, the index (into
        :attr:`SequenceMemory.items`) of the stored item it overlaps most.
    sequence, position : numpy.ndarray
        ``int64`` ``(B, steps + 1)``: that item's sequence and position in it.
    overlap : numpy.ndarray
        ``float64`` ``(B, steps + 1)``: the overlap ``ξ·s / N`` with that item
        (1.0 means the state *is* the item).
    """

    trajectory: np.ndarray
    item: np.ndarray
    sequence: np.ndarray
    position: np.ndarray
    overlap: np.ndarray

    @property
    def exact(self) -> np.ndarray:
        """``bool``: whether each state equals its matched item exactly."""
        return self.overlap == 1.0


class SequenceMemory(Persistent):
    """Stores sequences ``ξ¹ → ξ² → …`` and replays them.

    The asymmetric weights ``W = (1/N) Σ_μ ξ^{μ+1} ξ^μᵀ`` (summed over the
    transitions of every stored sequence; with ``cyclic=True`` each
    sequence's last item also leads back to its first) map each item to the
    next: one synchronous step ``s ← sign(W s − θ)`` (ties keep the state)
    moves from ``ξ^μ`` to ``ξ^{μ+1}``, and cleans up noise on the way. The
    weights are an explicit float32 matrix (exact integer counts over N,
    on the exact grid of :meth:`HopfieldNetwork.from_weights`); there is no
    energy function.

    Parameters
    ----------
    n : int
        Number of neurons.
    cyclic : bool, optional
        Close every sequence into a loop (default False: the last item of a
        sequence has no successor).
    threshold : float or array_like, optional
        The thresholds θ (default 0).

    Examples
    --------
    >>> import hopfield as hf
    >>> items = hf.random_patterns(11, 500, seed=0)
    >>> mem = hf.SequenceMemory(500)
    >>> mem.store(items)
    >>> rec = mem.recall(hf.corrupt(items[0], flip=0.1, seed=1), steps=10)
    >>> bool((rec.trajectory[1:] == items[1:]).all()), rec.position.tolist()
    (True, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    """

    def __init__(self, n: int, *, cyclic: bool = False, threshold: float | ArrayLike = 0.0) -> None:
        self._n = _validate.positive_int(n, "n")
        if not isinstance(cyclic, (bool, np.bool_)):
            raise TypeError(f"cyclic must be a bool, got {type(cyclic).__name__}")
        self._cyclic = bool(cyclic)
        self._theta = _validate.threshold(threshold, self._n)
        self._sequences: list[np.ndarray] = []
        self._engine: Weights | None = None

    def __repr__(self) -> str:
        return (
            f"SequenceMemory(n={self._n}, cyclic={self._cyclic}, "
            f"sequences={len(self._sequences)}, items={self.items.shape[0]})"
        )

    @property
    def n(self) -> int:
        """Number of neurons."""
        return self._n

    @property
    def cyclic(self) -> bool:
        """Whether each sequence loops back to its first item."""
        return self._cyclic

    @property
    def sequences(self) -> list[np.ndarray]:
        """The stored sequences, new ``int8`` arrays ``(L_k, N)``."""
        return [s.copy() for s in self._sequences]

    @property
    def items(self) -> np.ndarray:
        """All stored items, sequence after sequence, ``int8`` ``(Σ L_k, N)``."""
        if not self._sequences:
            return np.empty((0, self._n), dtype=np.int8)
        return np.concatenate(self._sequences)

    @property
    def weights(self) -> np.ndarray:
        """The weights ``W`` (float32 ``(N, N)``, asymmetric)."""
        return self._weights_engine().weights()

    def store(self, sequence: ArrayLike) -> None:
        """Store one sequence of items ``(L, N)`` (``L ≥ 2``, or ``L ≥ 1`` when
        cyclic), as spins. Sequences add up; each keeps its own transitions."""
        seq = as_spins(sequence, name="sequence")
        if seq.ndim != 2 or seq.shape[1] != self._n:
            raise ValueError(
                f"sequence must be a 2-D (L, n = {self._n}) array of items, got shape {seq.shape}"
            )
        least = 1 if self._cyclic else 2
        if seq.shape[0] < least:
            raise ValueError(
                f"sequence must have at least {least} items (a transition), got {seq.shape[0]}"
            )
        w = sequence_weights(self._n, [*self._sequences, np.ascontiguousarray(seq)], self._cyclic)
        self._engine = Weights(w, self._theta)
        self._sequences.append(np.array(seq, dtype=np.int8, order="C"))

    def forget(self, indices: ArrayLike | int) -> None:
        """Remove stored sequences exactly.

        The weights are recomputed from the remaining sequences, so afterwards
        the memory is, bit for bit, one that stored only those (a sequence's
        transitions are its own: nothing of a forgotten sequence remains).

        Parameters
        ----------
        indices : int or array_like of int
            Positions in :attr:`sequences` to forget: distinct integers in
            ``[-S, S)`` for ``S`` stored sequences (negative counts from the
            end). Empty: nothing changes.

        Raises
        ------
        IndexError
            An index out of range.
        ValueError, TypeError
            Repeated indices, or indices that are not integers.
        """
        keep = _forget.kept(indices, len(self._sequences), "stored sequences")
        if len(keep) == len(self._sequences):
            return
        remaining = [self._sequences[i] for i in keep]
        weights = sequence_weights(self._n, remaining, self._cyclic) if remaining else None
        self._engine = None if weights is None else Weights(weights, self._theta)
        self._sequences = remaining

    def _get_state(self) -> State:
        params = {
            "n": self._n,
            "cyclic": self._cyclic,
            "lengths": [len(q) for q in self._sequences],
        }
        return params, {"items": pack_spins(self.items), "threshold": self._theta}

    @classmethod
    def _from_state(cls, params: dict[str, Any], arrays: dict[str, np.ndarray]) -> SequenceMemory:
        memory = cls(params["n"], cyclic=params["cyclic"], threshold=arrays["threshold"])
        items = unpack_spins(arrays["items"], memory.n)
        if sum(params["lengths"]) != len(items):
            raise ValueError(f"{len(items)} items do not split into lengths {params['lengths']}")
        start = 0
        for length in params["lengths"]:
            memory.store(items[start : start + length])
            start += length
        return memory

    def _weights_engine(self) -> Weights:
        if self._engine is None:
            self._engine = Weights(np.zeros((self._n, self._n), np.float32), self._theta)
        return self._engine

    def recall(self, start: ArrayLike, steps: int, *, threads: int | None = None) -> SequenceRecall:
        """Replay from ``start`` for ``steps`` synchronous steps.

        Parameters
        ----------
        start : array_like
            One state ``(N,)`` or a batch ``(B, N)`` of spins. Never modified.
        steps : int
            Number of steps (at least 0).
        threads : int or None
            Threads for a batch (results never depend on it).

        Returns
        -------
        SequenceRecall
            The trajectory and, per state, the stored item it matches.
        """
        steps = _validate.positive_int(steps, "steps", minimum=0)
        batch, single = _validate.spin_batch(start, self._n, "start")
        if not self._sequences:
            raise ValueError("recall: nothing is stored yet; store a sequence first")
        engine = self._weights_engine()
        options = RetrieveOptions(
            update="sync",
            max_sweeps=1,
            order="random",
            seed=0,
            threads=threads,
            track_energy=False,
            temperature=0.0,
            sweeps=None,
            schedule=None,
        )
        traj = np.empty((batch.shape[0], steps + 1, self._n), dtype=np.int8)
        traj[:, 0] = batch
        cur = np.ascontiguousarray(batch)
        for t in range(1, steps + 1):
            cur = engine.retrieve(cur, options).states
            traj[:, t] = cur
        items = self.items
        flat = traj.reshape(-1, self._n)
        ov = overlap_matrix(np.ascontiguousarray(flat), items)
        best = np.argmax(ov, axis=1)
        lengths = np.array([s.shape[0] for s in self._sequences])
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        seq_of = np.repeat(np.arange(len(lengths)), lengths)
        shape = traj.shape[:2]
        item = best.reshape(shape).astype(np.int64)
        sequence = seq_of[best].reshape(shape).astype(np.int64)
        position = (best - starts[seq_of[best]]).reshape(shape).astype(np.int64)
        overlap = ov[np.arange(flat.shape[0]), best].reshape(shape)
        if single:
            return SequenceRecall(traj[0], item[0], sequence[0], position[0], overlap[0])
        return SequenceRecall(traj, item, sequence, position, overlap)
