"""Photographs at 128 x 128 (N = 16,384 neurons): which memories recall them,
from noise and from their upper half, with and without clamping the known half.

The slide this project comes from stores such photographs and finds that
"theory says 0.138 N = 2,261 patterns, yet the network gets confused storing
just 10". Here every model stores the first k of scikit-image's bundled
photographs (``hf.datasets.photos``) and is asked to recall each of them
from three cues:

* ``noise``: 25 % of the pixels flipped;
* ``half``: the upper half kept, the lower half set to -1 (black), all free;
* ``clamped``: the same cue with the upper half clamped (``clamp=`` the
  known pixels; the modern network also scores on them only, ``known=``).

A photograph counts as recalled when the final state equals it exactly
(the modern network's state is compared by its sign). Times are wall-clock
seconds on this machine: storing all k photographs, then retrieving the k
queries of one cue.

Every rule stores 14 photographs at N = 16,384 in well under a second once
the process's memory is warm (the first 1 GiB matrices of a process can take
seconds on a virtual machine); ``--size 64`` (N = 4,096) runs the whole
example in seconds, and ``--rules`` picks the models.

    python examples/photo_recall.py --plot docs/photos.png
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import hopfield as hf
import numpy as np

#: The models of the figure: name -> builder for N neurons.
MODELS: dict[str, Callable[[int], object]] = {
    "hebbian": lambda n: hf.HopfieldNetwork(n),
    "storkey": lambda n: hf.HopfieldNetwork(n, rule="storkey"),
    "pseudoinverse": lambda n: hf.HopfieldNetwork(n, rule="pseudoinverse"),
    "dense x^3": lambda n: hf.DenseAssociativeMemory(n, interaction="polynomial", degree=3),
    "dense exp": lambda n: hf.DenseAssociativeMemory(n, interaction="exponential", beta=1.0),
    "modern": lambda n: hf.ModernHopfield(beta=1.0),
}
CUES = ("noise", "half", "clamped")


def cues(patterns: np.ndarray, seed: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """The queries of every cue and the mask of known pixels (upper half)."""
    n = patterns.shape[1]
    known = np.zeros(n, dtype=bool)
    known[: n // 2] = True
    half = np.where(known, patterns, -1).astype(np.int8)
    queries = {
        "noise": hf.corrupt(patterns, flip=0.25, seed=seed),
        "half": half,
        "clamped": half,
    }
    return queries, known


def recall(model: object, query: np.ndarray, cue: str, known: np.ndarray, seed: int) -> np.ndarray:
    """The final states of ``model`` from ``query`` (int8 ±1, one row per photograph)."""
    clamp = known if cue == "clamped" else None
    if isinstance(model, hf.ModernHopfield):
        res = model.retrieve(query.astype(np.float32), steps=3, clamp=clamp, known=clamp)
        return np.where(res.states >= 0, 1, -1).astype(np.int8)
    return model.retrieve(query, seed=seed, clamp=clamp).states  # type: ignore[attr-defined]


Rates = dict[tuple[str, int, str], float]


def run(
    photos: np.ndarray, counts: list[int], names: list[str], seed: int
) -> tuple[Rates, Rates, dict[tuple[str, int], float], dict[str, np.ndarray]]:
    """Fraction recalled and recall time per (model, k, cue), store time per
    (model, k), and Hebbian's states of each cue at the largest k (for the
    figure)."""
    n = photos.shape[1]
    rates: Rates = {}
    recall_s: Rates = {}
    store_s: dict[tuple[str, int], float] = {}
    last: dict[str, np.ndarray] = {}
    for name in names:
        for k in counts:
            model = MODELS[name](n)
            stored = photos[:k]
            began = time.perf_counter()
            model.store(stored.astype(np.float32) if name == "modern" else stored)  # type: ignore[attr-defined]
            store_s[(name, k)] = time.perf_counter() - began
            queries, known = cues(stored, seed)
            for cue in CUES:
                began = time.perf_counter()
                states = recall(model, queries[cue], cue, known, seed)
                spent = time.perf_counter() - began
                rates[(name, k, cue)] = float((states == stored).all(axis=1).mean())
                recall_s[(name, k, cue)] = spent
                if name == "hebbian" and k == counts[-1]:
                    last[cue] = states
            done = " ".join(f"{c} {rates[(name, k, c)]:.2f}" for c in CUES)
            print(f"  {name}, k = {k}: {done} (store {store_s[(name, k)]:.1f} s)", flush=True)
            del model
    return rates, recall_s, store_s, last


def table(
    rates: Rates,
    recall_s: Rates,
    store_s: dict[tuple[str, int], float],
    counts: list[int],
    names: list[str],
) -> str:
    """The recall table (fraction recalled per cue) with the times."""
    lines = [
        "| model | k | noise 25 % | upper half | upper half, clamped | store s | recall s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in names:
        for k in counts:
            r = [rates[(name, k, c)] for c in CUES]
            t = sum(recall_s[(name, k, c)] for c in CUES)
            lines.append(
                f"| {name} | {k} | {r[0]:.2f} | {r[1]:.2f} | {r[2]:.2f} | "
                f"{store_s[(name, k)]:.2f} | {t:.2f} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> Rates:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=128, help="image side (default 128: N = 16,384)")
    ap.add_argument("--counts", default="2,4,6,8,10,12,14", help="photographs stored, e.g. 2,8,14")
    ap.add_argument("--rules", default=",".join(MODELS), help="models, comma-separated")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the figure to this PNG")
    args = ap.parse_args(argv)

    counts = [int(c) for c in args.counts.split(",")]
    names = [r.strip() for r in args.rules.split(",")]
    unknown = [r for r in names if r not in MODELS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {list(MODELS)}")
    data = hf.datasets.photos(args.size, count=max(counts))
    print(
        f"{len(data.labels)} photographs at {args.size}x{args.size} (N = {args.size**2}): "
        + ", ".join(data.labels)
    )
    rates, recall_s, store_s, last = run(data.patterns, counts, names, args.seed)
    print(table(rates, recall_s, store_s, counts, names))
    if args.plot:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(12, 7.2), layout="constrained")
        top, bottom = fig.subfigures(2, 1, height_ratios=[1.2, 1])
        axes = top.subplots(1, 3, sharey=True)
        titles = {
            "noise": "from 25 % flipped pixels",
            "half": "from the upper half (lower half -1)",
            "clamped": "from the upper half, clamped",
        }
        for ax, cue in zip(axes, CUES, strict=True):
            for name in names:
                ax.plot(counts, [rates[(name, k, cue)] for k in counts], marker="o", label=name)
            ax.set_title(titles[cue], fontsize=10)
            ax.set_xlabel("photographs stored")
            ax.set_ylim(-0.05, 1.05)
        axes[0].set_ylabel("fraction recalled exactly")
        axes[-1].legend(fontsize=8)
        if last:
            k = counts[-1]
            pick = min(1, k - 1)
            queries, _ = cues(data.patterns[:k], args.seed)
            panels = [
                ("stored", data.patterns[pick]),
                ("upper-half cue", queries["half"][pick]),
                ("Hebbian, free", last["half"][pick]),
                ("Hebbian, clamped", last["clamped"][pick]),
                ("25 % noise", queries["noise"][pick]),
                ("Hebbian from noise", last["noise"][pick]),
            ]
            for ax, (title, image) in zip(bottom.subplots(1, len(panels)), panels, strict=True):
                ax.imshow(image.reshape(data.shape), cmap="gray", vmin=-1, vmax=1)
                ax.set_title(f"{title} (k = {k})", fontsize=9)
                ax.set_axis_off()
        fig.savefig(args.plot, dpi=90)
        print(f"wrote {args.plot}")
    return rates


if __name__ == "__main__":
    main()
