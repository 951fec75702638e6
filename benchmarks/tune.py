"""Fit the fusion weights of qa/search.py offline, on candidate features dumped once.

    python benchmarks/squad.py --dump benchmarks/data/squad/features.npz
    python benchmarks/tune.py benchmarks/data/squad/features.npz [--fit-on 0.5]
    python benchmarks/tune.py --dump-seeds seeds.npz --index DIR   # the seed questions' features
    python benchmarks/tune.py squad.npz --seeds seeds.npz [--seed-weight 1]

With `--seeds`, the objective is joint: P@1 + MRR@10 on the SQuAD fit part plus
`--seed-weight` × (hit@1 + hit@3 + MRR) on seed half A (questions whose id
number is even); half B (odd) and all of them are reported, never fitted.

The dump holds, for every question, every candidate sentence `qa.search`
considers with its feature columns and whether it is a correct quote. A
weight setting is then scored in numpy (P@1 and MRR@10 per question group)
without re-running the pipeline, and coordinate ascent climbs from the
current weights. Weights are fitted on the first part of the questions (in
file order, so whole articles) and reported on the rest and on all of them.

What is left out: quotes longer than a sentence (a label is per sentence).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def seed_half(qid: str) -> str:
    """'A' (fit) or 'B' (held out): by the parity of the number in the question's id."""
    from qa.evaluate import in_part
    return "A" if in_part(qid, "even") else "B"


def dump(lib, questions: list[dict], path: str) -> None:
    from qa import followup
    from qa.evaluate import is_correct
    from qa.search import FEATURES, candidates
    index, emb = lib.index, lib.embedder
    cols, labels, groups = [], [], []
    for g, q in enumerate(questions):
        query = followup.rewrite(q["question"], q.get("history") or [])
        rows, feats = candidates(index, emb.encode([query])[0], query)
        cols.append(np.stack([feats[f] for f in FEATURES], axis=1))
        labels.append(np.array([is_correct(index.sentence_text(int(r)), q) for r in rows]))
        groups.append(np.full(len(rows), g, dtype=np.int32))
        if g % 500 == 0:
            print(f"{g}/{len(questions)}", file=sys.stderr)
    np.savez_compressed(path, X=np.concatenate(cols), y=np.concatenate(labels),
                        g=np.concatenate(groups), features=np.array(FEATURES),
                        ids=np.array([q["id"] for q in questions]))
    print(f"wrote {path}", file=sys.stderr)


class Sweep:
    def __init__(self, X, y, g):
        self.X, self.y, self.g = X, y.astype(bool), g
        self.starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
        self.n = len(self.starts)

    def ranks(self, w) -> np.ndarray:
        """Rank of the first correct sentence per question (inf when no candidate is correct)."""
        s = self.X @ w
        pos = np.where(self.y, s, -np.inf)
        best = np.maximum.reduceat(pos, self.starts)
        # Ties count against: a wrong sentence scored the same as the right one ranks above it.
        above = np.add.reduceat(((s > best[self.g]) | ((s == best[self.g]) & ~self.y)).astype(np.int32),
                                self.starts)
        return np.where(np.isfinite(best), 1 + above, np.inf)

    def metrics(self, w, k=10) -> dict:
        r = self.ranks(w)
        return {"P@1": float(np.mean(r == 1)), f"MRR@{k}": float(np.mean(np.where(r <= k, 1 / r, 0))),
                "R@5": float(np.mean(r <= 5)), "reachable": float(np.mean(np.isfinite(r)))}

    def objective(self, w) -> float:
        m = self.metrics(w)
        return m["P@1"] + m["MRR@10"]


class Joint:
    """SQuAD fit part plus seed half A, weighed by `seed_weight`: news questions paraphrase."""

    def __init__(self, squad: Sweep, seeds: Sweep, seed_weight: float):
        self.squad, self.seeds, self.seed_weight = squad, seeds, seed_weight

    def objective(self, w) -> float:
        r = self.seeds.ranks(w)
        news = np.mean(r == 1) + np.mean(r <= 3) + np.mean(np.where(r <= 3, 1 / r, 0))
        return self.squad.objective(w) + self.seed_weight * float(news)


def subset(X, y, g, lo, hi):
    m = (g >= lo) & (g < hi)
    return Sweep(X[m], y[m], g[m] - lo)


def climb(sw, w: np.ndarray, fixed: int = 0, rounds: int = 4) -> np.ndarray:
    """Coordinate ascent; weight `fixed` stays put (the scale of the score)."""
    w = w.copy()
    best = sw.objective(w)
    for _ in range(rounds):
        improved = False
        for j in range(len(w)):
            if j == fixed:
                continue
            for step in (0.4, 0.2, 0.1, 0.05, 0.02):
                for sign in (1, -1):
                    t = w.copy()
                    t[j] = max(0.0, t[j] + sign * step)
                    o = sw.objective(t)
                    if o > best + 1e-6:
                        best, w, improved = o, t, True
        if not improved:
            break
    return w


def dump_seeds(index_dir: str, questions_path: str, path: str) -> None:
    from qa import Library
    from qa.evaluate import load_questions
    qs = [q for q in load_questions(questions_path) if q["support"]]
    dump(Library(index_dir=index_dir), qs, path)


def seed_parts(path: str) -> dict[str, Sweep]:
    d = np.load(path)
    X, y, g, ids = d["X"], d["y"], d["g"], list(d["ids"])
    a = np.array([seed_half(ids[i]) == "A" for i in g])
    renum = lambda m: np.unique(g[m], return_inverse=True)[1]  # noqa: E731
    return {"seed A": Sweep(X[a], y[a], renum(a)), "seed B": Sweep(X[~a], y[~a], renum(~a)),
            "seed all": Sweep(X, y, g)}


def main(argv=None) -> int:
    from qa.search import WEIGHTS
    p = argparse.ArgumentParser()
    p.add_argument("dump", nargs="?")
    p.add_argument("--fit-on", type=float, default=0.5, help="share of questions (in order) to fit on")
    p.add_argument("--seeds", help="seed features (--dump-seeds) for a joint objective")
    p.add_argument("--seed-weight", type=float, default=1.0)
    p.add_argument("--dump-seeds", help="write the seed questions' features here and stop")
    p.add_argument("--index", help="seed index directory (with --dump-seeds)")
    p.add_argument("--questions", default=str(Path(__file__).resolve().parent.parent / "tests" / "data"
                                              / "seed_questions.jsonl"))
    p.add_argument("--start", choices=["current", "flat"], default="current",
                   help="climb from the current weights or from equal ones")
    args = p.parse_args(argv)
    if args.dump_seeds:
        dump_seeds(args.index, args.questions, args.dump_seeds)
        return 0
    d = np.load(args.dump)
    X, y, g, names = d["X"], d["y"], d["g"], list(d["features"])
    n = int(g.max()) + 1
    cut = int(n * args.fit_on)
    fit, held, every = subset(X, y, g, 0, cut), subset(X, y, g, cut, n), Sweep(X, y, g)
    parts = {"fit": fit, "held-out": held, "all": every}
    target = fit
    if args.seeds:
        seeds = seed_parts(args.seeds)
        parts.update(seeds)
        target = Joint(fit, seeds["seed A"], args.seed_weight)
    w0 = np.array([WEIGHTS.get(f, 0.0) for f in names])
    start = w0 if args.start == "current" else np.full(len(names), 0.2)
    w = climb(target, start, rounds=8)
    w = w / w.sum()  # the score's scale: weights sum to 1
    for label, ww in (("current", w0), ("fitted", w)):
        print(label, {f: round(float(v), 3) for f, v in zip(names, ww)})
        for part, sw in parts.items():
            print(f"  {part:9s}", {k: round(v, 4) for k, v in sw.metrics(ww).items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
