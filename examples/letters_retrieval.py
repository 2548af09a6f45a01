"""Letters: store letter bitmaps, corrupt them, watch the network recall them.

The seeds' first experiment (5x5 / 10x10 letters, retrieval from flipped
pixels). Prints query -> retrieved as text art and, with ``--plot``, saves the
query / retrieved / original panels and the energy of every query by sweep.

    python examples/letters_retrieval.py --letters HOTX --flip 0.15 --plot letters.png
"""

from __future__ import annotations

import argparse

import hopfield as hf


def main(argv: list[str] | None = None) -> dict[str, float]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--letters", default="HOTX", help="letters to store (default HOTX)")
    ap.add_argument("--flip", type=float, default=0.15, help="flip fraction (default 0.15)")
    ap.add_argument("--scale", type=int, default=1, help="blow each pixel up (default 1)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the panels to this PNG")
    args = ap.parse_args(argv)

    data = hf.datasets.letters(args.letters, scale=args.scale)
    net = hf.HopfieldNetwork(data.patterns.shape[1])
    net.store(data.patterns)
    queries = hf.corrupt(data.patterns, flip=args.flip, seed=args.seed)
    res = net.retrieve(queries, seed=args.seed + 1, track_energy=True)
    _, overlap = res.nearest(data.patterns)
    own = (res.states.astype(int) * data.patterns).sum(axis=1) / net.n

    for label, q, s, m in zip(data.labels, queries, res.states, own, strict=True):
        print(f"{label}: overlap with the original {m:+.2f}")
        for a, b in zip(
            hf.to_text(q, data.shape).split("\n"),
            hf.to_text(s, data.shape).split("\n"),
            strict=True,
        ):
            print(f"  {a}   {b}")
    recalled = float((own == 1).mean())
    print(f"recalled exactly: {recalled:.0%} of {len(own)} letters")
    if args.plot:
        from hopfield import plot

        fig = plot.retrieval_panels(queries, res, data.shape, originals=data.patterns)
        fig.savefig(args.plot, dpi=100)
        plot.energy_traces(res, labels=list(data.labels)).savefig(
            args.plot.replace(".png", "_energy.png"), dpi=100
        )
        print(f"wrote {args.plot}")
    return {"recalled": recalled, "mean_overlap": float(own.mean())}


if __name__ == "__main__":
    main()
