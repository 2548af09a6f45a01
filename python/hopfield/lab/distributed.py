"""The heavy calls of the library on a Dask cluster, with the answers of one machine.

Needs the ``dask`` extra (``pip install 'hopfield[dask]'``: dask and distributed).
Imported as ``hopfield.distributed``; ``import hopfield`` does not import it.

* :func:`retrieve` — batch retrieval over a :mod:`dask.array` of queries,
  chunked by rows, for every binary model and for
  :class:`~hopfield.ModernHopfield`. The model travels to each worker once
  (``client.scatter(..., broadcast=True)``); each chunk runs the model's own
  ``retrieve``; the results are lazy Dask arrays. A query's random streams
  come from ``(seed, its global row index)`` (the ``first_row=`` of
  ``retrieve``), so the answer is bit-identical to
  ``model.retrieve(queries.compute())`` for any chunking and any number of
  workers.
* :func:`load_npy` and :func:`store_npy` — queries from a memory-mapped
  ``.npy`` file larger than memory, results written chunk by chunk into
  one (``.to_zarr`` / :func:`dask.array.store` work as well).
* :class:`ShardedModernHopfield` — a modern Hopfield memory whose patterns
  are split by rows over the workers and stay there; each shard returns
  its partial online-softmax state per query and the partials merge
  exactly (log-sum-exp), as the tiles of one memory do.

The experiments of :mod:`hopfield.experiments` take ``executor=`` (any
:class:`concurrent.futures.Executor`, e.g. ``client.get_executor()``) for
the third heavy kind of work, trials and loads.

What moves over the network: the model once per worker; per chunk, its
queries in and its results out; for the sharded memory, per call, the
queries to every shard and ``(m, l, o)`` (``B·(d_v + 2)`` float64) back.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .. import _validate
from .._core import RetrieveOptions
from .._spin_model import SpinModel
from ..modern import ModernHopfield, ModernRetrieval
from ..results import Retrieval

try:
    import dask
    import dask.array as da
    from dask.delayed import Delayed
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "hopfield.distributed needs dask and distributed: pip install 'hopfield[dask]'"
    ) from exc

__all__ = [
    "DaskModernRetrieval",
    "DaskRetrieval",
    "ShardedModernHopfield",
    "load_npy",
    "retrieve",
    "store_npy",
]

#: ``retrieve``'s options of the binary models (``first_row`` is set per chunk).
_SPIN_OPTIONS = (
    "update",
    "max_sweeps",
    "order",
    "seed",
    "threads",
    "temperature",
    "sweeps",
    "schedule",
)
_MODERN_OPTIONS = ("steps", "tol", "max_steps")


def _client(client: Any) -> Any:
    """``client``, or the default ``distributed`` client, or None (local scheduler)."""
    if client is not None:
        return client
    try:
        from distributed import default_client
    except ImportError:  # pragma: no cover - distributed comes with the extra
        return None
    try:
        return default_client()
    except ValueError:
        return None


def _ship(obj: Any, client: Any) -> Any:
    """``obj`` sent to every worker once (a future), or ``obj`` itself without a client."""
    client = _client(client)
    if client is None:
        return obj
    return client.scatter(obj, broadcast=True, hash=False)


@dataclass(frozen=True)
class DaskRetrieval:
    """What :func:`retrieve` returned for a binary model: lazy Dask arrays.

    The fields are those of :class:`hopfield.Retrieval` for a batch; all of
    them come from one task per chunk, so computing them together (with
    :meth:`compute` or :func:`dask.compute`) runs each chunk once.

    Attributes
    ----------
    states : dask.array.Array
        ``int8`` ``(B, N)``.
    converged, sweeps, energy, cycled : dask.array.Array
        ``(B,)`` each.
    seed : int
        The seed every chunk ran with (the one drawn for ``seed=None``):
        ``model.retrieve(queries.compute(), seed=seed, ...)`` gives the same.
    """

    states: da.Array
    converged: da.Array
    sweeps: da.Array
    energy: da.Array
    cycled: da.Array
    seed: int

    def compute(self, **kwargs: Any) -> Retrieval:
        """All fields at once, as a :class:`hopfield.Retrieval` (``kwargs`` go to
        :func:`dask.compute`)."""
        states, converged, sweeps, energy, cycled = dask.compute(
            self.states, self.converged, self.sweeps, self.energy, self.cycled, **kwargs
        )
        return Retrieval(
            states=states, converged=converged, sweeps=sweeps, energy=energy, cycled=cycled
        )


@dataclass(frozen=True)
class DaskModernRetrieval:
    """What :func:`retrieve` returned for a :class:`~hopfield.ModernHopfield`.

    Attributes
    ----------
    states : dask.array.Array
        ``float32`` ``(B, d_v)``.
    steps, converged : dask.array.Array
        ``(B,)`` each.
    """

    states: da.Array
    steps: da.Array
    converged: da.Array

    def compute(self, **kwargs: Any) -> ModernRetrieval:
        """All fields at once, as a :class:`hopfield.ModernRetrieval`."""
        states, steps, converged = dask.compute(self.states, self.steps, self.converged, **kwargs)
        return ModernRetrieval(states=states, steps=steps, converged=converged)


def _check_queries(queries: Any, width: int, dim: str) -> tuple[int, ...]:
    """The row chunks of a Dask (B, width) array whose chunks hold whole rows."""
    if not isinstance(queries, da.Array):
        raise TypeError(
            "queries must be a dask.array.Array (da.from_array(x, chunks=(rows, -1)), "
            f"or distributed.load_npy); got {type(queries).__name__}; for a NumPy array "
            "call model.retrieve directly"
        )
    if queries.ndim != 2:
        raise ValueError(f"queries must be 2-D (B, {dim}), got shape {queries.shape}")
    rows, cols = queries.chunks
    if any(np.isnan(c) for c in rows + cols):
        raise ValueError(
            "queries has chunks of unknown size: call queries.compute_chunk_sizes() first"
        )
    if queries.shape[1] != width:
        raise ValueError(
            f"queries must have {dim} = {width} columns (the model's), got shape {queries.shape}"
        )
    if len(cols) != 1:
        raise ValueError(
            f"queries' chunks split each row into {len(cols)} pieces {cols}: chunk by rows "
            "only, e.g. queries.rechunk({1: -1})"
        )
    return tuple(int(r) for r in rows)


def _spin_chunk(
    model: SpinModel, block: np.ndarray, first_row: int, options: dict, masks: dict
) -> tuple:
    res = model.retrieve(block, first_row=first_row, **options, **masks)
    return res.states, res.converged, res.sweeps, res.energy, res.cycled


def _modern_chunk(model: ModernHopfield, block: np.ndarray, options: dict, masks: dict) -> tuple:
    res = model.retrieve(np.asarray(block), **options, **masks)
    return res.states, res.steps, res.converged


def _mask_chunks(
    masks: dict[str, Any], width: int, dim: str, rows: tuple[int, ...], total: int
) -> list[dict[str, Any]]:
    """Each chunk's share of the masks ``masks`` (``clamp=``, ``known=``): a
    ``(width,)`` mask goes whole with every chunk; a ``(B, width)`` one (NumPy,
    or Dask, rechunked to the queries' rows) goes by rows with its chunk.
    Checked here, so that a bad mask fails now, not on a worker."""
    out: list[dict[str, Any]] = [{} for _ in rows]
    for name, value in masks.items():
        if value is None:
            continue
        if isinstance(value, da.Array):
            if value.dtype != np.bool_:
                raise TypeError(
                    f"{name} must be a boolean mask (dtype bool, True = held), "
                    f"got dtype {value.dtype}"
                )
            if value.shape != (total, width):
                raise ValueError(
                    f"{name} as a Dask array must have shape (B, {dim}) = ({total}, {width}) "
                    f"(one row per query), got shape {value.shape}"
                )
            parts = value.rechunk((rows, (width,))).to_delayed()[:, 0]
        else:
            m = _validate.mask(value, width, total, name)
            if m.shape[0] == 1:
                parts = [m[0]] * len(rows)
            else:
                starts = np.concatenate([[0], np.cumsum(rows)]).astype(int)
                parts = [m[a:b] for a, b in zip(starts[:-1], starts[1:], strict=True)]
        for chunk, part in zip(out, parts, strict=True):
            chunk[name] = part
    return out


def _pick(part: tuple, i: int) -> np.ndarray:
    return part[i]


def _columns(
    parts: list[Delayed], rows: tuple[int, ...], layout: Sequence[tuple[tuple[int, ...], Any]]
) -> list[da.Array]:
    """The Dask arrays of the fields ``layout`` (trailing shape, dtype) of chunk tuples."""
    pick = dask.delayed(_pick, pure=True)
    out = []
    for i, (tail, dtype) in enumerate(layout):
        blocks = [
            da.from_delayed(pick(part, i), shape=(r, *tail), dtype=dtype)
            for part, r in zip(parts, rows, strict=True)
        ]
        out.append(da.concatenate(blocks, axis=0))
    return out


def retrieve(
    model: SpinModel | ModernHopfield,
    queries: da.Array,
    *,
    client: Any = None,
    **options: Any,
) -> DaskRetrieval | DaskModernRetrieval:
    """``model.retrieve`` over a Dask array of queries, chunk by chunk.

    Parameters
    ----------
    model : HopfieldNetwork, DenseAssociativeMemory or ModernHopfield
        A model holding its patterns (any binary model of the package, or a
        modern network). It is sent to each worker once.
    queries : dask.array.Array
        ``(B, N)`` spins for a binary model, ``(B, d)`` reals for a modern
        network, chunked by rows only (each chunk holds whole rows).
    client : distributed.Client or None
        Where to send the model; ``None``: the default client if there is one,
        else the model goes into the graph as it is (for Dask's local schedulers).
        Compute the results on that client (the tasks refer to the model there).
    **options
        The model's ``retrieve`` options: ``update``, ``max_sweeps``, ``order``,
        ``seed``, ``threads``, ``temperature``, ``sweeps``, ``schedule``,
        ``clamp`` for a binary model (``seed=None`` draws one seed here, for
        every chunk); ``steps``, ``tol``, ``max_steps``, ``clamp``, ``known``
        for a modern network. A mask (``clamp=``, ``known=``) is a boolean
        array of shape ``(N,)`` (or ``(d,)``), sent with every chunk, or
        ``(B, N)``, NumPy or Dask, of which each chunk gets its own rows (a
        Dask mask is rechunked to the queries' rows); it is checked here.

    Returns
    -------
    DaskRetrieval or DaskModernRetrieval
        Lazy Dask arrays, chunked as ``queries``; ``.compute()`` gives the
        :class:`hopfield.Retrieval` (or :class:`hopfield.ModernRetrieval`)
        equal, bit for bit, to ``model.retrieve(queries.compute(), **options)``.

    Raises
    ------
    TypeError
        When ``queries`` is no Dask array, ``model`` no model of the package,
        or a mask not boolean.
    ValueError
        When a chunk splits rows, the width is not the model's, an option is bad
        (named as by ``retrieve``), a mask has the wrong shape, or for
        ``track_energy=True`` (traces have a length per batch; retrieve the
        rows of interest locally).

    Examples
    --------
    >>> import dask.array as da, hopfield as hf
    >>> from hopfield import distributed
    >>> net = hf.HopfieldNetwork(64)
    >>> net.store(hf.random_patterns(3, 64, seed=0))
    >>> q = da.from_array(hf.random_patterns(10, 64, seed=1), chunks=(4, -1))
    >>> res = distributed.retrieve(net, q, seed=2)
    >>> bool((res.compute().states == net.retrieve(q.compute(), seed=2).states).all())
    True
    """
    if isinstance(model, ModernHopfield):
        masks: dict[str, Any] = {k: options.pop(k) for k in ("clamp", "known") if k in options}
        unknown = sorted(set(options) - set(_MODERN_OPTIONS))
        if unknown:
            raise TypeError(f"ModernHopfield.retrieve takes no option {unknown[0]!r}")
        model._check_stored()
        rows = _check_queries(queries, model.dim, "d")
        chunk_masks = _mask_chunks(masks, model.dim, "d", rows, int(queries.shape[0]))
        shipped = _ship(model, client)
        task = dask.delayed(_modern_chunk, pure=True)
        parts = [
            task(shipped, block, options, m)
            for block, m in zip(queries.to_delayed()[:, 0], chunk_masks, strict=True)
        ]
        layout = [((model.value_dim,), np.float32), ((), np.uint32), ((), np.bool_)]
        return DaskModernRetrieval(*_columns(parts, rows, layout))
    if not isinstance(model, SpinModel):
        raise TypeError(
            "model must be a binary model of hopfield (HopfieldNetwork, "
            f"DenseAssociativeMemory) or a ModernHopfield, got {type(model).__name__}"
        )
    if options.get("track_energy"):
        raise ValueError(
            "track_energy=True is not supported by distributed.retrieve: an energy trace is "
            "as long as its batch's longest run; retrieve the rows you want to trace locally"
        )
    options.pop("track_energy", None)
    masks = {"clamp": options.pop("clamp")} if "clamp" in options else {}
    if "first_row" in options:
        raise TypeError("first_row is set per chunk by distributed.retrieve; leave it out")
    unknown = sorted(set(options) - set(_SPIN_OPTIONS))
    if unknown:
        raise TypeError(f"retrieve() got an unexpected option {unknown[0]!r}")
    # Checked once here (a bad option fails now, not on a worker); the seed
    # drawn for seed=None is the one every chunk uses.
    checked = RetrieveOptions(
        update=options.get("update", "async"),
        max_sweeps=options.get("max_sweeps", 100),
        order=options.get("order", "random"),
        seed=options.get("seed"),
        threads=options.get("threads"),
        track_energy=False,
        temperature=options.get("temperature", 0.0),
        sweeps=options.get("sweeps"),
        schedule=options.get("schedule"),
    )
    options = {**options, "seed": checked.seed}
    rows = _check_queries(queries, model.n, "N")
    chunk_masks = _mask_chunks(masks, model.n, "N", rows, int(queries.shape[0]))
    shipped = _ship(model, client)
    task = dask.delayed(_spin_chunk, pure=True)
    starts = np.concatenate([[0], np.cumsum(rows)[:-1]]).astype(int)
    parts = [
        task(shipped, block, int(k), options, m)
        for block, k, m in zip(queries.to_delayed()[:, 0], starts, chunk_masks, strict=True)
    ]
    n = model.n
    layout = [((n,), np.int8), ((), np.bool_), ((), np.uint32), ((), np.float64), ((), np.bool_)]
    states, converged, sweeps, energy, cycled = _columns(parts, rows, layout)
    return DaskRetrieval(states, converged, sweeps, energy, cycled, seed=checked.seed)


# ---------------------------------------------------------------------------
# out of core


def _npy_rows(path: str, start: int, stop: int) -> np.ndarray:
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def load_npy(path: str | os.PathLike[str], rows: int) -> da.Array:
    """A ``.npy`` file of shape ``(B, N)`` as a Dask array of ``rows`` rows per chunk.

    Each chunk's task opens the file memory-mapped and reads its rows only,
    so a file larger than memory (or than any one worker's) streams through;
    the file must be readable at the same path by every worker.

    Parameters
    ----------
    path : str or os.PathLike
        A 2-D ``.npy`` file.
    rows : int
        Rows per chunk, at least 1.

    Returns
    -------
    dask.array.Array
    """
    path = os.fspath(path)
    if isinstance(rows, bool) or not isinstance(rows, (int, np.integer)) or rows < 1:
        raise ValueError(f"rows must be an integer >= 1, got {rows!r}")
    head = np.load(path, mmap_mode="r")
    if head.ndim != 2:
        raise ValueError(f"{path} must hold a 2-D array (B, N), got shape {head.shape}")
    b, n = head.shape
    read = dask.delayed(_npy_rows, pure=True)
    blocks = [
        da.from_delayed(read(path, lo, min(lo + rows, b)), (min(lo + rows, b) - lo, n), head.dtype)
        for lo in range(0, b, int(rows))
    ]
    return da.concatenate(blocks, axis=0)


def _write_rows(path: str, block: np.ndarray, start: int) -> int:
    out = np.load(path, mmap_mode="r+")
    out[start : start + len(block)] = block
    out.flush()
    return len(block)


def store_npy(array: da.Array, path: str | os.PathLike[str]) -> None:
    """Compute ``array`` chunk by chunk into a new ``.npy`` file at ``path``.

    The file is created at full size first; each chunk's task then opens it
    memory-mapped and writes its rows, so no machine holds the whole result.
    The path must be writable at the same place by every worker (a shared
    file system); for object stores use ``array.to_zarr(...)``.

    Parameters
    ----------
    array : dask.array.Array
        The result to write, e.g. ``distributed.retrieve(...).states``.
    path : str or os.PathLike
        The ``.npy`` file to create (overwritten if it exists).
    """
    if not isinstance(array, da.Array):
        raise TypeError(f"array must be a dask.array.Array, got {type(array).__name__}")
    path = os.fspath(path)
    if any(np.isnan(c) for cs in array.chunks for c in cs):
        raise ValueError("array has chunks of unknown size: call compute_chunk_sizes() first")
    if array.ndim > 1 and len(array.chunks[1:]) and any(len(c) != 1 for c in array.chunks[1:]):
        array = array.rechunk({i: -1 for i in range(1, array.ndim)})
    np.lib.format.open_memmap(path, mode="w+", dtype=array.dtype, shape=array.shape).flush()
    write = dask.delayed(_write_rows, pure=False)
    starts = np.concatenate([[0], np.cumsum(array.chunks[0])[:-1]]).astype(int)
    # Unoptimised: the graph keeps the futures it holds (a scattered model).
    blocks = array.to_delayed(optimize_graph=False).reshape(len(array.chunks[0]), -1)[:, 0]
    dask.compute(*[write(path, b, int(k)) for b, k in zip(blocks, starts, strict=True)])


# ---------------------------------------------------------------------------
# a sharded modern memory


def _make_shard(
    beta: float, threads: int | None, keys: np.ndarray, values: np.ndarray | None
) -> ModernHopfield:
    shard = ModernHopfield(beta, threads=threads)
    shard.store(np.asarray(keys), None if values is None else np.asarray(values))
    return shard


def _shard_state(shard: ModernHopfield, beta: float, queries: np.ndarray) -> tuple:
    shard.beta = beta
    return shard._engine.softmax_state(queries)


def _shard_attention(shard: ModernHopfield, beta: float, queries: np.ndarray) -> tuple:
    shard.beta = beta
    m, total, _ = shard._engine.softmax_state(queries)
    return shard._engine.attention(queries), m, total


def _shard_info(shard: ModernHopfield) -> tuple[int, float]:
    return shard.num_patterns, float(shard._engine.max_norm_sq)


def _merge(states: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The exact log-sum-exp merge of shards' ``(m, l, o)``: the whole memory's."""
    m = np.max([s[0] for s in states], axis=0)
    scales = [np.where(np.isneginf(s[0]), 0.0, np.exp(s[0] - m)) for s in states]
    total = sum(a * s[1] for a, s in zip(scales, states, strict=True))
    o = sum(a[:, None] * s[2] for a, s in zip(scales, states, strict=True))
    return m, total, o


class ShardedModernHopfield:
    """A modern Hopfield memory whose patterns are split over a cluster's workers.

    Each :meth:`store` splits its patterns (and values) by rows over the
    workers, where they stay, one :class:`~hopfield.ModernHopfield` per
    piece. A retrieval sends the queries to every shard; each returns, per
    query, its online-softmax state (running maximum ``m`` of ``β k·q``, sum
    ``l`` of ``exp(β k·q − m)``, weighted value sum ``o``) and the states
    merge exactly by log-sum-exp, as the tiles of one memory do. Results
    equal :class:`~hopfield.ModernHopfield`'s on the same patterns to float32
    tolerance (the sums are float64 in both, added in another order).

    Parameters
    ----------
    beta : float
        Inverse temperature β > 0 (settable later).
    client : distributed.Client
        The cluster the shards live on.
    threads : int or None
        Threads each shard uses on its worker (``None``: all of the worker's).

    Examples
    --------
    >>> from distributed import Client  # doctest: +SKIP
    >>> mem = ShardedModernHopfield(1.0, Client())  # doctest: +SKIP
    >>> mem.store(keys)  # doctest: +SKIP
    >>> mem.retrieve(queries).states  # doctest: +SKIP
    """

    def __init__(self, beta: float, client: Any, *, threads: int | None = None) -> None:
        if client is None or not hasattr(client, "scatter") or not hasattr(client, "submit"):
            raise TypeError(f"client must be a distributed.Client, got {type(client).__name__}")
        self._check = ModernHopfield(beta, threads=threads)  # validates beta and threads
        self._client = client
        self._threads = threads
        self._shards: list[Any] = []
        self._rows: list[int] = []
        self._dim = 0
        self._value_dim = 0
        self._hetero: bool | None = None
        self._max_norm_sq = 0.0

    def __repr__(self) -> str:
        return (
            f"ShardedModernHopfield(beta={self.beta!r}, num_patterns={self.num_patterns}, "
            f"shards={len(self._shards)}, dim={self.dim})"
        )

    @property
    def beta(self) -> float:
        """Inverse temperature β (settable: a finite number > 0)."""
        return self._check.beta

    @beta.setter
    def beta(self, value: float) -> None:
        self._check.beta = value

    @property
    def num_patterns(self) -> int:
        """Number of stored patterns, over all shards."""
        return sum(self._rows)

    @property
    def dim(self) -> int:
        """Key width d (0 before the first store)."""
        return self._dim

    @property
    def value_dim(self) -> int:
        """Value width d_v (d for auto-association; 0 before the first store)."""
        return self._value_dim

    @property
    def shards(self) -> list[int]:
        """Patterns per shard, in pattern order."""
        return list(self._rows)

    def _pieces(self, x: Any, count: int) -> list[tuple[int, int]]:
        if isinstance(x, da.Array):
            bounds = np.concatenate([[0], np.cumsum(x.chunks[0])]).astype(int)
        else:
            bounds = np.linspace(0, x.shape[0], count + 1).round().astype(int)
        return [(int(a), int(b)) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]

    def store(
        self, patterns: ArrayLike | da.Array, values: ArrayLike | da.Array | None = None
    ) -> None:
        """Append patterns (and values) split over the workers.

        Parameters
        ----------
        patterns : array_like or dask.array.Array
            ``(P, d)`` reals. A NumPy array is cut into one piece per worker;
            a Dask array gives one shard per row chunk, built on the worker
            that computes it (the patterns never pass through this process).
        values : array_like or dask.array.Array, optional
            ``(P, d_v)`` values, one row per pattern; either every store gives
            values or none does.
        """
        lazy = isinstance(patterns, da.Array)
        x: da.Array | np.ndarray = (
            patterns if isinstance(patterns, da.Array) else np.asarray(patterns)
        )
        v: da.Array | np.ndarray | None = (
            values if (values is None or isinstance(values, da.Array)) else np.asarray(values)
        )
        if x.ndim != 2 or 0 in x.shape or any(np.isnan(c) for c in x.shape):
            raise ValueError(f"patterns must be 2-D (P, d) and non-empty, got shape {x.shape}")
        if self._dim and x.shape[1] != self._dim:
            raise ValueError(f"patterns must have d = {self._dim} columns, got shape {x.shape}")
        if self._hetero is not None and (v is not None) != self._hetero:
            raise ValueError("either every store gives values or none does")
        if v is not None and (v.ndim != 2 or v.shape[0] != x.shape[0] or v.shape[1] == 0):
            raise ValueError(
                f"values must be 2-D with one row per pattern ({x.shape[0]}, d_v), "
                f"got shape {v.shape}"
            )
        if not lazy:
            # Checked here (finite float32 reals), so a bad value fails now.
            ModernHopfield(self.beta).store(x, v)
        if isinstance(x, da.Array):
            rechunked: da.Array = x.rechunk({1: -1})
            if isinstance(v, da.Array):
                v = v.rechunk({0: rechunked.chunks[0], 1: -1})
            x = rechunked
        workers = max(1, len(self._client.scheduler_info().get("workers", {})))
        pieces = self._pieces(x, workers)
        futures = []
        for a, b in pieces:
            keys = x[a:b]
            vals = None if v is None else v[a:b]
            if lazy:
                built = dask.delayed(_make_shard)(self.beta, self._threads, keys, vals)
                futures.append(self._client.compute(built))
            else:
                keys_f = self._client.scatter(np.ascontiguousarray(keys), hash=False)
                vals_f = (
                    None
                    if vals is None
                    else self._client.scatter(np.ascontiguousarray(vals), hash=False)
                )
                futures.append(
                    self._client.submit(
                        _make_shard, self.beta, self._threads, keys_f, vals_f, pure=False
                    )
                )
        infos = self._client.gather([self._client.submit(_shard_info, f) for f in futures])
        self._shards.extend(futures)
        self._rows.extend(int(r) for r, _ in infos)
        self._max_norm_sq = max([self._max_norm_sq, *(m for _, m in infos)])
        self._dim = int(x.shape[1])
        self._value_dim = int(self._dim if v is None else v.shape[1])
        self._hetero = v is not None

    def _queries(self, queries: ArrayLike, name: str) -> tuple[np.ndarray, bool]:
        if not self._shards:
            raise ValueError("no patterns stored: call store(patterns) first")
        from ..modern import _batch

        return _batch(queries, self._dim, name)

    def _state(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        sent = self._client.scatter(q, broadcast=True, hash=False)
        futures = [self._client.submit(_shard_state, s, self.beta, sent) for s in self._shards]
        return _merge(self._client.gather(futures))

    def retrieve(
        self,
        queries: ArrayLike,
        *,
        steps: int = 1,
        tol: float | None = None,
        max_steps: int = 100,
    ) -> ModernRetrieval:
        """Update queries with ``ξ ← Vᵀ softmax(β K ξ)`` over all shards.

        As :meth:`hopfield.ModernHopfield.retrieve`: ``steps`` updates, or with
        ``tol`` until an update moves a query by at most ``tol`` (max-abs), at
        most ``max_steps``; each update is one round trip to the shards.

        Returns
        -------
        ModernRetrieval
        """
        q, single = self._queries(queries, "queries")
        # The options are checked as the single-machine memory checks them.
        probe = ModernHopfield(self.beta)
        probe.store(np.zeros((1, self._dim), np.float32))
        probe.retrieve(q[:1], steps=steps, tol=tol, max_steps=max_steps)
        limit = max_steps if tol is not None else steps
        if limit > 1 and self._hetero:
            raise ValueError(
                "iterating needs auto-association (keys = values): "
                "store patterns without values, or use steps=1"
            )
        b = q.shape[0]
        states = np.zeros((b, self._value_dim), np.float32)
        done = np.zeros(b, np.uint32)
        converged = np.zeros(b, bool)
        active = np.arange(b)
        current = q
        for t in range(1, limit + 1):
            _, total, o = self._state(current)
            new = (o / total[:, None]).astype(np.float32)
            if self._value_dim == self._dim:
                change = np.abs(new - current).astype(np.float64).max(axis=1, initial=0.0)
            else:
                change = np.full(len(new), np.inf)
            top = np.abs(new).astype(np.float64).max(axis=1, initial=0.0)
            ok = change <= (tol if tol is not None else 1e-6 * (1.0 + top))
            states[active] = new
            done[active] = t
            converged[active] = ok
            keep = ~ok if tol is not None else np.ones(len(new), bool)
            if t == limit or not keep.any():
                break
            active, current = active[keep], np.ascontiguousarray(new[keep])
        if single:
            return ModernRetrieval(
                states=states[0], steps=int(done[0]), converged=bool(converged[0])
            )
        return ModernRetrieval(states=states, steps=done, converged=converged)

    def energy(self, states: ArrayLike) -> np.ndarray | float:
        """``E(ξ) = −β⁻¹ log Σ_μ exp(β x_μ·ξ) + ½ ξ·ξ + β⁻¹ log P + ½ M²`` over all shards.

        Float64 ``(B,)`` for ``(B, d)`` states, a float for one ``(d,)`` state.
        """
        s, single = self._queries(states, "states")
        m, total, _ = self._state(s)
        beta = self.beta
        sq = np.einsum("ij,ij->i", s.astype(np.float64), s.astype(np.float64))
        e = (
            -(m + np.log(total)) / beta
            + 0.5 * sq
            + np.log(self.num_patterns) / beta
            + 0.5 * self._max_norm_sq
        )
        return float(e[0]) if single else e

    def attention(self, queries: ArrayLike) -> np.ndarray:
        """The softmax weights ``softmax(β K q)`` over all patterns in store order.

        Float64 ``(B, P)`` or ``(P,)``; materialises ``B × P`` numbers in this
        process: meant for inspection at small sizes.
        """
        q, single = self._queries(queries, "queries")
        sent = self._client.scatter(q, broadcast=True, hash=False)
        parts = self._client.gather(
            [self._client.submit(_shard_attention, s, self.beta, sent) for s in self._shards]
        )
        m = np.max([p[1] for p in parts], axis=0)
        scales = [np.exp(p[1] - m) * p[2] for p in parts]
        total = sum(scales)
        a = np.concatenate(
            [p[0] * (w / total)[:, None] for p, w in zip(parts, scales, strict=True)], axis=1
        )
        return a[0] if single else a
