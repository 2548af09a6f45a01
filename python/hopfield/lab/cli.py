"""The ``hopfield`` command line (also ``python -m hopfield``).

``hopfield demo`` stores a few letter bitmaps, corrupts and retrieves them and
prints the result as text art, then times batch retrieval with the Rust engine
against the NumPy reference (:mod:`hopfield.reference`) on the same queries.

``hopfield capacity``, ``robustness``, ``spurious`` and ``bench`` run the
experiments of :mod:`hopfield.experiments` (see :mod:`hopfield.lab.commands`).

``hopfield app`` serves the interactive page (:mod:`hopfield.app`, extra
``hopfield[app]``); the app is imported only when that command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import numpy as np

from .. import reference
from .._core import __version__ as _version
from .._core import detected_simd, simd_level
from ..network import HopfieldNetwork, sweep_orders
from ..spins import corrupt, random_patterns, to_text
from . import commands
from .letters import letter_patterns

__all__ = ["main"]

#: Letters whose bitmaps are stable and far enough apart to be recalled by a
#: Hebbian network of 63 neurons (many letter pairs are too correlated).
DEMO_LETTERS = "HOTX"
LETTER_FLIP = 0.15
#: The speed part: N neurons, P random patterns (load 0.1), B queries.
N, P = 1024, 102
QUERIES, QUICK_QUERIES = 10_000, 1_000
#: The async reference is timed on at most this many queries (it is slow).
REFERENCE_ASYNC_QUERIES = 1_000
FLIP = 0.1
#: Every timing is the best of this many runs.
REPEATS = 3


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hopfield",
        description="Fast associative memories: bit-packed Hopfield networks in Rust.",
    )
    parser.add_argument("--version", action="version", version=f"hopfield {_version}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="recall corrupted letters, then time the Rust engine against NumPy",
        description=(
            "Store letter bitmaps, corrupt and retrieve them (printed as text art); "
            f"then store P = {P} random patterns of N = {N} neurons and time the "
            f"retrieval of {QUERIES:,} corrupted queries ({FLIP:.0%} flips) with the "
            "Rust engine and with the NumPy reference, asynchronous and synchronous."
        ),
    )
    demo.add_argument("--seed", type=commands.seed_int, default=0, help="random seed (default 0)")
    demo.add_argument(
        "--threads",
        type=commands.thread_count,
        default=None,
        help="threads for the Rust engine (default: all cores)",
    )
    demo.add_argument(
        "--letters",
        default=DEMO_LETTERS,
        help=f"letters to store (default {DEMO_LETTERS}; too many similar letters "
        "exceed what a 63-neuron network can hold)",
    )
    demo.add_argument(
        "--quick",
        action="store_true",
        help=f"time {QUICK_QUERIES:,} queries instead of {QUERIES:,}",
    )
    demo.set_defaults(func=_demo)
    commands.add_commands(sub)
    app = sub.add_parser(
        "app",
        help="serve the interactive page in the browser (pip install 'hopfield[app]')",
        description=(
            "Serve the interactive page (draw and retrieve, the modern network's beta, "
            "the energy landscape) on a local web server and print its address. "
            "Ctrl-C stops it."
        ),
    )
    app.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    app.add_argument(
        "--port",
        type=_port,
        default=APP_PORT,
        help=f"port (default {APP_PORT}; 0 picks a free one)",
    )
    app.add_argument("--open", action="store_true", help="open the page in the default browser")
    app.set_defaults(func=_app)
    return parser


#: Default port of ``hopfield app`` (hopfield.app.server.DEFAULT_PORT, not imported
#: here so that the command line does not need the app's extra).
APP_PORT = 8765


def _port(text: str) -> int:
    """An argparse type: a TCP port in ``[0, 65535]``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port in [0, 65535], got {value}")
    return value


def _app(args: argparse.Namespace, out: TextIO) -> int:
    try:
        # the app is the layer above the lab: imported only when its command runs
        from ..app.server import serve
    except ImportError as exc:
        raise ImportError(
            f"hopfield app needs Starlette and uvicorn: pip install 'hopfield[app]' ({exc})"
        ) from None
    try:
        serve(
            args.host,
            args.port,
            open_browser=args.open,
            announce=lambda line: print(line, file=out, flush=True),
        )
    except OSError as exc:
        raise ValueError(f"cannot listen on {args.host}:{args.port}: {exc}") from None
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``hopfield`` command line; return the exit status."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args, sys.stdout))
    except (ValueError, TypeError, ImportError) as exc:
        print(f"hopfield: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `hopfield demo | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


# ---------------------------------------------------------------------------
# demo


def _demo(args: argparse.Namespace, out: TextIO) -> int:
    rng = np.random.default_rng(args.seed)
    seeds = [int(s) for s in rng.integers(0, 2**63, size=6)]
    _letters(args.letters, seeds[:2], args.threads, out)
    print(file=out)
    _speed(QUICK_QUERIES if args.quick else QUERIES, seeds[2:], args.threads, out)
    return 0


def _letters(letters: str, seeds: list[int], threads: int | None, out: TextIO) -> None:
    if not letters:
        raise ValueError("letters must name at least one letter")
    patterns, shape = letter_patterns(letters)
    h, w = shape
    n = h * w
    net = HopfieldNetwork(n)
    net.store(patterns)
    queries = corrupt(patterns, flip=LETTER_FLIP, seed=seeds[0])
    res = net.retrieve(queries, update="async", seed=seeds[1], threads=threads)
    overlaps = (res.states.astype(np.int64) * patterns).sum(axis=1) / n
    flips = round(LETTER_FLIP * n)

    print(
        f"Letters: {len(patterns)} bitmaps of {h}x{w} = {n} neurons stored; "
        f"{flips} of {n} pixels ({LETTER_FLIP:.0%}) flipped in each query; "
        "asynchronous retrieval.",
        file=out,
    )
    print("  m = overlap of the retrieved state with the original letter (+1 = exact).", file=out)
    print(file=out)
    cw = max(w, len("retrieved"))
    arrow = [" -> " if i == h // 2 else "    " for i in range(h)]
    rows = -(-len(patterns) // 3)
    per_row, gap = -(-len(patterns) // rows), "    "
    for start in range(0, len(patterns), per_row):
        ks = range(start, min(start + per_row, len(patterns)))
        pairs = []
        for k in ks:
            q = to_text(queries[k], shape).split("\n")
            r = to_text(res.states[k], shape).split("\n")
            sweeps = int(np.asarray(res.sweeps)[k])
            note = f"{letters[k].upper()}: m = {overlaps[k]:+.2f}, {sweeps} sweeps"
            lines = [f"{'query':<{cw}}    {'retrieved':<{cw}}"]
            lines += [f"{a:<{cw}}{b}{c:<{cw}}" for a, b, c in zip(q, arrow, r, strict=True)]
            lines.append(note)
            pairs.append(lines)
        width = max(len(line) for lines in pairs for line in lines)
        for i in range(h + 2):
            print("  " + gap.join(p[i].ljust(width) for p in pairs).rstrip(), file=out)
        print(file=out)
    ok = int(np.sum(overlaps == 1.0))
    print(f"  {ok} of {len(patterns)} letters recalled exactly (overlap +1.00).", file=out)


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """Run ``fn`` ``REPEATS`` times; return its result and the best time."""
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    return result, best


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _speed(b: int, seeds: list[int], threads: int | None, out: TextIO) -> None:
    patterns = random_patterns(P, N, seed=seeds[0])
    target = np.arange(b) % P
    queries = corrupt(patterns[target], flip=FLIP, seed=seeds[1])
    net = HopfieldNetwork(N)
    net.store(patterns)
    seed = seeds[2]

    def rust(update: str, q: np.ndarray) -> Any:
        return net.retrieve(q, update=update, seed=seed, threads=threads)

    rust("async", queries[:64])  # warm up (thread pool, caches)
    rust("sync", queries[:64])
    r_async, t_async = _timed(lambda: rust("async", queries))
    r_sync, t_sync = _timed(lambda: rust("sync", queries))

    # Reference, synchronous: every query.
    f_sync, tf_sync = _timed(lambda: reference.retrieve_sync(patterns, queries))
    # Reference, asynchronous: a prefix of the batch, with the orders the Rust
    # run drew for those queries, so the two follow the same trajectories.
    m = min(b, REFERENCE_ASYNC_QUERIES)
    sweeps = int(np.max(r_async.sweeps[:m]))
    orders = sweep_orders(N, sweeps, seed=seed, count=m)
    f_async, tf_async = _timed(
        lambda: reference.retrieve_async_batched(patterns, queries[:m], orders, max_sweeps=sweeps)
    )
    same_sync = bool(np.array_equal(r_sync.states, f_sync.states))
    same_async = bool(np.array_equal(r_async.states[:m], f_async.states))

    def recalled(states: np.ndarray, rows: np.ndarray) -> float:
        m_own = (states.astype(np.int32) * patterns[rows]).sum(axis=1) / N
        return float(np.mean(m_own > 0.9))

    flips = round(FLIP * N)
    used = threads if threads is not None else _cores()
    print(
        f"Speed: P = {P} random patterns of N = {N} neurons (load {P / N:.2f}); "
        f"{b:,} queries, each a stored pattern with {flips} bits ({FLIP:.0%}) flipped.",
        file=out,
    )
    print(
        f"  Rust engine: SIMD level {simd_level()} (CPU supports {detected_simd()}), "
        f"{used} thread{'s' if used != 1 else ''}"
        f"{'' if threads is not None else ' (all cores)'}; "
        f"network memory nbytes = {net.nbytes:,} "
        f"(patterns P*N/8 = {P * N // 8:,} + thresholds)",
        file=out,
    )
    print(file=out)
    rows = [
        ("async", "hopfield (Rust)", b, t_async, recalled(r_async.states, target)),
        ("async", "NumPy reference", m, tf_async, recalled(f_async.states, target[:m])),
        ("sync", "hopfield (Rust)", b, t_sync, recalled(r_sync.states, target)),
        ("sync", "NumPy reference", b, tf_sync, recalled(f_sync.states, target)),
    ]
    print(
        f"  {'update':<7}{'engine':<17}{'queries':>9}{'seconds':>10}{'queries/s':>12}"
        f"{'us/query':>10}{'recalled':>10}",
        file=out,
    )
    for update, engine, count, secs, frac in rows:
        print(
            f"  {update:<7}{engine:<17}{count:>9,}{secs:>10.3f}{count / secs:>12,.0f}"
            f"{secs / count * 1e6:>10.1f}{frac:>10.1%}",
            file=out,
        )
    print(file=out)
    up_async = (tf_async / m) / (t_async / b)
    up_sync = tf_sync / t_sync
    print(
        f"  Speed-up of Rust over the NumPy reference (per query): "
        f"async {up_async:.1f}x, sync {up_sync:.1f}x",
        file=out,
    )
    if m < b:
        note = (
            f"  The async reference was timed on the first {m:,} queries only "
            "(its rate is per query);"
        )
    else:
        note = "  The async reference ran every query;"
    print(note + " it was given the Rust run's neuron orders (hopfield.sweep_orders).", file=out)
    print(
        f"  Times are the best of {REPEATS} runs; the reference uses NumPy's BLAS threads.",
        file=out,
    )
    print(
        f"  Identical final states: async {'yes' if same_async else 'NO'}, "
        f"sync {'yes' if same_sync else 'NO'}. 'recalled' = overlap with the "
        "query's own pattern above 0.9.",
        file=out,
    )
