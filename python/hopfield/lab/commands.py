"""The experiment commands of the ``hopfield`` command line.

``hopfield capacity``, ``hopfield robustness``, ``hopfield spurious`` and
``hopfield bench``: each prints a text table on stdout, shows a progress bar
on stderr (``--no-progress`` to hide it), and can write ``--json FILE`` and
``--plot FILE.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from .._core import simd_level
from ..spins import random_patterns
from . import bench, experiments, machine, progress, theory

__all__ = ["add_commands"]


def _float_list(text: str) -> list[float]:
    """``"0.05,0.1,0.2"`` or a range ``"start:stop:step"`` (stop included)."""
    try:
        if ":" in text:
            start, stop, step = (float(x) for x in text.split(":"))
            if not step > 0 or stop < start:
                raise ValueError
            count = math.floor((stop - start) / step + 1e-9) + 1
            values = [round(start + k * step, 10) for k in range(count)]
        else:
            values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected numbers like 0.05,0.1,0.2 or a range start:stop:step, got {text!r}"
        ) from None
    if not values or not all(math.isfinite(v) for v in values):
        raise argparse.ArgumentTypeError(f"expected at least one finite number, got {text!r}")
    return values


def positive_int(text: str) -> int:
    """An argparse type: a positive integer."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value


def seed_int(text: str) -> int:
    """An argparse type: a seed in ``[0, 2**63)``."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer seed, got {text!r}") from None
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 2**63), got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {value}")
    return value


def _common(p: argparse.ArgumentParser, *, model: bool = True) -> None:
    if model:
        p.add_argument(
            "--model",
            default="hebbian",
            help=f"model kind, one of: {', '.join(sorted(experiments.MODELS))} (default hebbian)",
        )
    p.add_argument("--seed", type=seed_int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--threads", type=positive_int, default=None, help="threads (default: all cores)"
    )
    p.add_argument("--plot", metavar="FILE.png", help="save a figure (needs matplotlib)")
    p.add_argument("--json", metavar="FILE", help="write the results as JSON")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def add_commands(sub: Any) -> None:
    """Add the experiment subcommands to the ``hopfield`` parser's subparsers."""
    cap = sub.add_parser(
        "capacity",
        help="retrieval against load P/N, with the AGS theory",
        description=(
            "Store P = alpha*N random patterns for each load alpha, retrieve each from "
            "itself (or a corrupted copy with --noise) and tabulate the mean final "
            "overlap, the exactly recalled and fixed-point fractions and the AGS "
            "zero-temperature overlap."
        ),
    )
    cap.add_argument("--n", type=positive_int, default=500, help="neurons (default 500)")
    cap.add_argument(
        "--loads",
        type=_float_list,
        default=_float_list("0.02:0.24:0.02"),
        help="loads alpha = P/N, a list 0.05,0.1 or a range start:stop:step "
        "(default 0.02:0.24:0.02)",
    )
    cap.add_argument("--noise", type=_fraction, default=0.0, help="flip fraction (default 0)")
    cap.add_argument("--trials", type=positive_int, default=3, help="pattern sets per load (3)")
    _common(cap)
    cap.set_defaults(func=_capacity)

    rob = sub.add_parser(
        "robustness",
        help="retrieval against the fraction of flipped spins",
        description=(
            "Store P = load*N random patterns and retrieve corrupted copies at each "
            "noise level; tabulate mean final overlap, exact and recalled fractions."
        ),
    )
    rob.add_argument("--n", type=positive_int, default=500, help="neurons (default 500)")
    rob.add_argument("--load", type=_fraction, default=0.05, help="P/N (default 0.05)")
    rob.add_argument(
        "--noise-levels",
        type=_float_list,
        default=_float_list("0:0.5:0.05"),
        help="flip fractions, list or start:stop:step (default 0:0.5:0.05)",
    )
    rob.add_argument("--trials", type=positive_int, default=10, help="copies per pattern (10)")
    _common(rob)
    rob.set_defaults(func=_robustness)

    spu = sub.add_parser(
        "spurious",
        help="census of the attractors reached from random states",
        description=(
            "Store P = load*N random patterns, run the dynamics from random states and "
            "classify the distinct fixed points: stored, reversed, near-stored, "
            "mixtures (with their components) and other (spin-glass) states."
        ),
    )
    spu.add_argument("--n", type=positive_int, default=200, help="neurons (default 200)")
    spu.add_argument("--load", type=_fraction, default=0.05, help="P/N (default 0.05)")
    spu.add_argument("--starts", type=positive_int, default=2000, help="random starts (2000)")
    _common(spu)
    spu.set_defaults(func=_spurious)

    ben = sub.add_parser(
        "bench",
        help="every model's Rust path against its NumPy reference",
        description=(
            "Check that each model's Rust path and its NumPy reference agree on the "
            "same inputs, time both and print the speed-up table."
        ),
    )
    ben.add_argument(
        "--only",
        default=None,
        help=f"comma-separated benches (default all: {','.join(bench.BENCHES)})",
    )
    ben.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    ben.add_argument("--repeats", type=positive_int, default=3, help="best of this many runs (3)")
    _common(ben, model=False)
    ben.set_defaults(func=_benchmark)


# ---------------------------------------------------------------------------
# output helpers


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """Columns right-aligned, except the first (a name), left-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "  " + "  ".join(parts)

    print(line(headers), file=out)
    print("  " + "  ".join("-" * w for w in widths), file=out)
    for r in rows:
        print(line(r), file=out)


def _write_json(path: str | None, payload: dict[str, Any], out: TextIO) -> None:
    if path is None:
        return
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2)
        fh.write("\n")
    print(f"Wrote {path}", file=out)


def _save_plot(path: str | None, draw: Any, out: TextIO) -> None:
    if path is None:
        return
    from . import plot  # matplotlib is optional: imported only when asked for

    fig = draw(plot)
    fig.savefig(path, dpi=100)
    print(f"Wrote {path}", file=out)


def _check_outputs(args: argparse.Namespace) -> None:
    """Fail before the work if an output cannot be written."""
    for path in (args.plot, args.json):
        if path is not None:
            folder = os.path.dirname(os.path.abspath(path))
            if not os.path.isdir(folder):
                raise ValueError(f"cannot write {path}: folder {folder} does not exist")
    if args.plot is not None:
        from . import plot  # noqa: F401  (fails early with the install hint)


def _check_model(name: str) -> None:
    if name not in experiments.MODELS:
        known = ", ".join(sorted(experiments.MODELS))
        raise ValueError(f"--model must be one of {known}; got {name!r}")


# ---------------------------------------------------------------------------
# commands


def _capacity(args: argparse.Namespace, out: TextIO) -> int:
    _check_model(args.model)
    _check_outputs(args)
    r = experiments.capacity_curve(
        args.model,
        args.n,
        args.loads,
        noise=args.noise,
        trials=args.trials,
        seed=args.seed,
        threads=args.threads,
        progress=not args.no_progress,
    )
    ags = np.asarray(theory.ags_overlap(r.loads))
    print(
        f"Capacity: {args.model}, N = {args.n}, {args.trials} trial(s) per load, queries "
        + ("= the stored patterns" if args.noise == 0 else f"with {args.noise:.0%} flipped")
        + ", asynchronous updates.",
        file=out,
    )
    print(file=out)
    rows = [
        [f"{a:.3f}", str(p), f"{m:.4f}", f"{e:.3f}", f"{f:.3f}", f"{t:.4f}" if t > 0 else "-"]
        for a, p, m, e, f, t in zip(
            r.loads,
            r.num_patterns,
            r.mean_overlap,
            r.exact_fraction,
            r.fixed_fraction,
            ags,
            strict=True,
        )
    ]
    _table(["alpha", "P", "overlap", "exact", "fixed", "AGS m"], rows, out)
    print(file=out)
    print(
        "  overlap: mean final overlap with the stored pattern; exact: fraction recalled", file=out
    )
    print("  exactly; fixed: fraction of stored patterns that are fixed points; AGS m:", file=out)
    print("  zero-temperature theory ('-': no retrieval state above alpha_c).", file=out)
    print(
        f"  AGS theory (N -> infinity): alpha_c = {theory.alpha_c:.4f}; "
        f"McEliece exact recall N/(2 ln N) = {theory.mceliece_capacity(args.n):.1f} patterns "
        f"(alpha = {theory.mceliece_capacity(args.n) / args.n:.3f}).",
        file=out,
    )
    below = np.flatnonzero(r.mean_overlap < 0.9)
    if below.size:
        print(f"  Mean overlap first below 0.9 at alpha = {r.loads[below[0]]:.3f}.", file=out)
    _write_json(args.json, {"command": "capacity", **r.as_dict()}, out)
    _save_plot(args.plot, lambda plot: plot.capacity_plot(r), out)
    return 0


def _robustness(args: argparse.Namespace, out: TextIO) -> int:
    _check_model(args.model)
    _check_outputs(args)
    if any(not 0 <= v <= 1 for v in args.noise_levels):
        raise ValueError("--noise-levels must lie in [0, 1]")
    p = max(1, round(args.load * args.n))
    patterns = random_patterns(p, args.n, seed=args.seed)
    r = experiments.noise_robustness(
        args.model,
        patterns,
        args.noise_levels,
        trials=args.trials,
        seed=args.seed + 1,
        threads=args.threads,
        progress=not args.no_progress,
    )
    print(
        f"Noise robustness: {args.model}, N = {args.n}, P = {p} (load {p / args.n:.3f}), "
        f"{args.trials} corrupted copies of each pattern per level.",
        file=out,
    )
    print(file=out)
    rows = [
        [f"{lv:.3f}", f"{m:+.4f}", f"{e:.3f}", f"{c:.3f}"]
        for lv, m, e, c in zip(
            r.noise_levels, r.mean_overlap, r.exact_fraction, r.recalled_fraction, strict=True
        )
    ]
    _table(["noise", "overlap", "exact", f"m>={r.min_overlap:g}"], rows, out)
    _write_json(args.json, {"command": "robustness", "n": args.n, "P": p, **r.as_dict()}, out)
    _save_plot(args.plot, lambda plot: plot.robustness_plot(r), out)
    return 0


def _spurious(args: argparse.Namespace, out: TextIO) -> int:
    _check_model(args.model)
    _check_outputs(args)
    p = max(1, round(args.load * args.n))
    patterns = random_patterns(p, args.n, seed=args.seed)
    c = experiments.spurious_census(
        args.model,
        args.starts,
        patterns=patterns,
        seed=args.seed + 1,
        threads=args.threads,
        progress=not args.no_progress,
    )
    print(
        f"Spurious attractors: {args.model}, N = {args.n}, P = {p} (load {p / args.n:.3f}); "
        f"{args.starts} random starts, {c.converged} converged to "
        f"{len(c.visits)} distinct fixed points.",
        file=out,
    )
    print(file=out)
    visits = c.as_dict()["visits_by_category"]
    rows = [
        [cat, str(c.counts[cat]), str(visits[cat]), f"{visits[cat] / max(c.converged, 1):.1%}"]
        for cat in experiments.CATEGORIES
    ]
    _table(["category", "distinct", "visits", "share"], rows, out)
    mixtures = [
        (v, comp)
        for v, cat, comp in zip(c.visits, c.category, c.components, strict=True)
        if cat == "mixture"
    ]
    if mixtures:
        print(file=out)
        print("  Most visited mixtures (components as +-pattern index):", file=out)
        for v, comp in mixtures[:5]:
            terms = " ".join(f"{'+' if s > 0 else '-'}{mu}" for mu, s in comp)
            print(f"    sign({terms})  visits {v}", file=out)
    _write_json(args.json, {"command": "spurious", "n": args.n, **c.as_dict()}, out)
    _save_plot(args.plot, lambda plot: plot.census_plot(c), out)
    return 0


def _benchmark(args: argparse.Namespace, out: TextIO) -> int:
    _check_outputs(args)
    names = list(bench.BENCHES) if args.only is None else args.only.split(",")
    unknown = [n for n in names if n not in bench.BENCHES]
    if unknown:
        raise ValueError(
            f"--only names unknown benches {unknown}; available: {', '.join(bench.BENCHES)}"
        )
    slowed = machine.slowing_variables_set()
    if slowed:
        print(
            "warning: "
            + ", ".join(f"{k}={v}" for k, v in slowed.items())
            + " is set: NumPy's OpenBLAS runs older, slower kernels, which flatters the"
            " speed-ups. For honest figures run: env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE"
            " hopfield bench ...",
            file=sys.stderr,
        )
    floors = machine.measure_floors(quick=args.quick)
    rows = []
    with progress.bar(len(names), "bench", not args.no_progress) as pbar:
        for name in names:
            rows.append(
                bench.run_bench(
                    name,
                    quick=args.quick,
                    seed=args.seed,
                    threads=args.threads,
                    repeats=args.repeats,
                )
            )
            pbar.update(1)
    print(
        f"Rust vs NumPy reference, same inputs, best of {args.repeats} "
        f"({'quick sizes' if args.quick else 'full sizes'}).",
        file=out,
    )
    print(machine.blas_description(), file=out)
    print(f"SIMD level {simd_level()}; machine floors measured now:", file=out)
    for line in floors.lines():
        print("  " + line, file=out)
    print(file=out)
    _table(
        ["bench", "size", "rust us/query", "ref us/query", "speed-up", "agree"],
        [
            [
                r.name,
                r.size,
                f"{r.rust_per_query * 1e6:.2f}",
                f"{r.reference_per_query * 1e6:.2f}",
                f"{r.speedup:.1f}x",
                "yes" if r.agree else "NO",
            ]
            for r in rows
        ],
        out,
    )
    _write_json(args.json, {"command": "bench", "rows": [vars(r) for r in rows]}, out)
    _save_plot(args.plot, lambda plot: plot.speedup_plot(rows), out)
    return 0 if all(r.agree for r in rows) else 1
