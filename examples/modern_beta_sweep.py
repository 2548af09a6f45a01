"""Modern Hopfield networks: the inverse temperature beta moves retrieval from
averaging over all memories (low beta, soft attention) to winner-take-all
(high beta, hard attention) — the seeds' beta slider, as a sweep.

For each beta, one update xi <- X^T softmax(beta X xi) of noisy queries:
the largest attention weight, the attention entropy, and the cosine of the
result with the pattern the query came from.

    python examples/modern_beta_sweep.py --plot beta.png
"""

from __future__ import annotations

import argparse

import hopfield as hf
import numpy as np


def main(argv: list[str] | None = None) -> dict[str, np.ndarray]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=64, help="pattern width (default 64)")
    ap.add_argument("--patterns", type=int, default=1000, help="stored patterns (default 1000)")
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--noise", type=float, default=0.5, help="noise norm relative to a pattern")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--plot", help="save the figure to this PNG")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((args.patterns, args.d)).astype(np.float32)
    target = np.arange(args.queries) % args.patterns
    q = x[target] + args.noise * rng.standard_normal((args.queries, args.d)).astype(np.float32)
    betas = np.logspace(-3, 0, 13)
    out = {"beta": betas, "max_weight": [], "entropy": [], "cosine": []}
    net = hf.ModernHopfield(1.0)
    net.store(x)
    print(f"P = {args.patterns} Gaussian patterns of d = {args.d}; 1/sqrt(d) = {args.d**-0.5:.3f}")
    print("    beta  max weight  entropy (nats)  cosine with target")
    for beta in betas:
        net.beta = float(beta)
        a = net.attention(q)
        s = net.retrieve(q).states
        cos = np.sum(s * x[target], axis=1) / (
            np.linalg.norm(s, axis=1) * np.linalg.norm(x[target], axis=1)
        )
        ent = -np.sum(np.where(a > 0, a * np.log(np.maximum(a, 1e-300)), 0.0), axis=1)
        out["max_weight"].append(a.max(axis=1).mean())
        out["entropy"].append(ent.mean())
        out["cosine"].append(cos.mean())
        print(
            f"  {beta:6.3f}  {out['max_weight'][-1]:10.3f}  {out['entropy'][-1]:14.2f}"
            f"  {out['cosine'][-1]:18.3f}"
        )
    res = {k: np.asarray(v) for k, v in out.items()}
    print(f"uniform attention would have entropy ln P = {np.log(args.patterns):.2f}")
    if args.plot:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(6, 3.6), layout="constrained")
        ax = fig.add_subplot()
        ax.semilogx(betas, res["max_weight"], marker="o", label="largest attention weight")
        ax.semilogx(betas, res["cosine"], marker="s", label="cosine with the target")
        ax.axvline(args.d**-0.5, color="k", ls=":", lw=1, label="beta = 1/sqrt(d)")
        ax.set_xlabel("beta (inverse temperature)")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=8)
        ax.set_title("Soft averaging -> winner-take-all", fontsize=10)
        fig.savefig(args.plot, dpi=100)
        print(f"wrote {args.plot}")
    return res


if __name__ == "__main__":
    main()
