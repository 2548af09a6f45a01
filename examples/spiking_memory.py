"""A spiking associative memory: a spike raster and the pattern overlaps over time.

Leaky integrate-and-fire neurons (tau = 20 ms, tau_syn = 5 ms, 2 ms refractory)
store sparse 0/1 patterns (activity 0.1) by the covariance rule. A cue with
10 % of its neurons wrong drives the network for 50 ms; after it ends the
cued pattern is held as persistent activity (its neurons keep firing, the
wrongly cued ones fall silent), while the other patterns stay near 0.

    python examples/spiking_memory.py --plot docs/spiking.png
"""

from __future__ import annotations

import argparse

import hopfield as hf
import numpy as np


def main(argv: list[str] | None = None) -> dict[str, object]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1000, help="neurons (default 1000)")
    ap.add_argument("--patterns", type=int, default=5, help="stored patterns (default 5)")
    ap.add_argument("--activity", type=float, default=0.1, help="fraction of active neurons")
    ap.add_argument("--flip", type=float, default=0.1, help="fraction of cue neurons wrong")
    ap.add_argument("--duration", type=float, default=300.0, help="simulated ms")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the figure to this PNG")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    k = int(args.activity * args.n)
    x = np.zeros((args.patterns, args.n), dtype=np.uint8)
    for row in x:
        row[rng.choice(args.n, k, replace=False)] = 1
    cue = x[0].copy()
    wrong = rng.choice(args.n, int(args.flip * args.n), replace=False)
    cue[wrong] = 1 - cue[wrong]

    net = hf.SpikingHopfieldNetwork(args.n)
    net.store(x)
    cue_end = 50.0
    run = net.simulate(cue, duration=args.duration, cue_duration=cue_end, bin=5.0)
    after = run.times > cue_end + 50.0
    held = float(run.overlaps[after, 0].min())
    others = float(np.abs(run.overlaps[after, 1:]).max())
    silent = net.simulate(np.zeros(args.n), duration=args.duration, bin=5.0)
    print(
        f"N = {args.n}, P = {args.patterns}, activity {args.activity}; cue: {args.flip:.0%} wrong"
    )
    print(f"{run.time.size} spikes; after the cue: overlap with the cued pattern >= {held:.3f}")
    print(f"largest |overlap| with another pattern after the cue: {others:.3f}")
    print(f"no cue: {silent.time.size} spikes")

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        # Neurons ordered: the cued pattern's first, then the rest.
        order = np.argsort(-x[0].astype(int), kind="stable")
        rank = np.empty(args.n, dtype=int)
        rank[order] = np.arange(args.n)
        fig, ax = plt.subplots(2, 1, figsize=(9, 6), sharex=True, height_ratios=[2, 1])
        wrongly_on = (cue == 1) & (x[0] == 0)
        colour = np.where(wrongly_on[run.neuron], "tab:red", "k")
        ax[0].scatter(run.time, rank[run.neuron], s=0.5, c=colour, marker=".")
        ax[0].axvspan(0, cue_end, color="tab:blue", alpha=0.1, label="cue on")
        ax[0].axhline(k, color="grey", lw=0.5)
        ax[0].set(ylabel="neuron (cued pattern first)", title="spike raster (red: wrongly cued)")
        ax[0].legend(loc="upper right", fontsize=8)
        ax[1].plot(run.times, run.overlaps[:, 0], "k", lw=2, label="cued pattern")
        for mu in range(1, args.patterns):
            ax[1].plot(run.times, run.overlaps[:, mu], lw=0.8)
        ax[1].axvspan(0, cue_end, color="tab:blue", alpha=0.1)
        ax[1].set(xlabel="time (ms)", ylabel="rate overlap", ylim=(-0.2, 1.05))
        ax[1].legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=100)
        print(f"saved {args.plot}")
    return {"held": held, "others": others, "silent_spikes": int(silent.time.size)}


if __name__ == "__main__":
    main()
