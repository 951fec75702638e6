"""Does the ranker learn too much from training questions that the article's lead answers?

    python benchmarks/lead_weight.py --bbc-index DIR [--weights 8 2 1] [--seeds 0 1] [--below-lead]

In the BBC training questions a sentence among the article's first two answers 28% of them; in
the evaluation sets' held-out half 8%, in the check set 3%, in the 200 questions written about
sentences below the lead (`tests/data/bbc_below_lead_questions_{a,b}.jsonl`, never read by
`train_reranker.py`) none. So the ranker may learn "the lead answers" from the training mix. This
refits the ranker (`train_reranker.py`'s recipe and weighting, `weighted`: top 30, news weight 8,
800 rounds; weight 8 is its model) with those lead-answered BBC training questions counted
`--weights` times instead of 8, and measures:

- five-fold cross-validation over the BBC fit questions (974 questions; hit@1, all of them and
  split into lead-answered and the rest): each fold's model never saw its questions;
- the 200 below-lead questions, each asked of the fold model that left its fifth out (a model
  fitted without them never sees them anyway; `--below-lead` also fits on the other four fifths);
- the held-out halves and the check set, asked of the model fitted on every fit question.

The larger sets (about 700 fit questions below the lead, 170 answerable below-lead ones) move by
chance much less than the held-out halves (64 and 25 questions). Figures only; it writes nothing.
Dumps: `train_reranker.py`'s (benchmarks/data/rerank/), plus the below-lead questions' own.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import train_reranker as T  # noqa: E402

BELOW_LEAD = sorted((T.ROOT / "tests" / "data").glob("bbc_below_lead_questions_*.jsonl"))
K = 5


def main(argv=None) -> int:
    from qa.evaluate import load_questions
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bbc-index", required=True, help="an index of ../shared/corpora/bbc-2005")
    p.add_argument("--weights", type=int, nargs="+", default=[8, 2], help="lead-answered question weights (8: as the others)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="LightGBM seeds (offsets to the script's)")
    p.add_argument("--below-lead", action="store_true", help="also fit on the below-lead questions (cross-fitted)")
    args = p.parse_args(argv)
    top, nw, rounds = 30, 8, 800
    os.environ["QA_RERANKER"] = "off"  # as in train_reranker.py: a dump asks the first stage alone

    libraries, _, sets = T.datasets(args.bbc_index)
    below = T.load_or_dump("bbc-below-lead", libraries["bbc"], [q for f in BELOW_LEAD for q in load_questions(f)],
                           False)
    check = T.load_or_dump("bbc-check", libraries["bbc"], load_questions(T.CHECK_QUESTIONS), False)
    ps = T.fit_and_held(sets, top)
    BL = T.Part(below, np.ones(len(below["ids"]), bool), top)
    CHK = T.Part(check, np.ones(len(check["ids"]), bool), top)
    F = ps["bbc"][0]
    lead = F.lead_answered()
    share = lambda part: float(part.lead_answered()[part.answerable].mean())  # noqa: E731
    print(f"lead-answered: BBC fit {share(F):.3f} ({F.answerable.sum()}), held out {share(ps['bbc'][1]):.3f}, "
          f"check {share(CHK):.3f}, below-lead set {share(BL):.3f}", file=sys.stderr)

    def fit(lw: int, f_keep: np.ndarray, b_keep: np.ndarray):
        """`train_reranker.py`'s weighting over the fit questions where `f_keep` (and the
        below-lead ones where `b_keep`, with --below-lead)."""
        parts = T.weighted({"squad": ps["squad"][0], "seeds": ps["seeds"][0], "bbc": F.subset(f_keep)}, nw,
                           lead_weight=lw)
        if args.below_lead:
            parts.append((BL.subset(b_keep), nw))
        return T.fit_model(parts, rounds)

    print("| seed | lead weight | fit CV: all | below the lead | lead | below-lead set | held-out BBC | check "
          "| held-out seeds | held-out SQuAD |\n|---|---|---|---|---|---|---|---|---|---|")
    base_seed = T.PARAMS.get("seed", 0)
    for seed in args.seeds:
        T.PARAMS = {**T.PARAMS, "seed": base_seed + seed}
        for lw in args.weights:
            rF, rB = np.full(len(F.qids), np.inf), np.full(len(BL.qids), np.inf)
            for f in range(K):
                ff, bf = np.arange(len(F.qids)) % K == f, np.arange(len(BL.qids)) % K == f
                m = fit(lw, ~ff, ~bf)
                rF[ff] = F.subset(ff).ranks(T.predict(m, F.subset(ff)))
                rB[bf] = BL.subset(bf).ranks(T.predict(m, BL.subset(bf)))
            m = fit(lw, np.ones(len(F.qids), bool), np.ones(len(BL.qids), bool))
            a = F.answerable
            held = {n: ps[n][1].metrics(T.predict(m, ps[n][1]))["hit@1"] for n in ("bbc", "seeds", "squad")}
            print(f"| {seed} | {lw} | {np.mean(rF[a] == 1):.3f} | {np.mean(rF[a & ~lead] == 1):.3f} "
                  f"| {np.mean(rF[a & lead] == 1):.3f} | {np.mean(rB[BL.answerable] == 1):.3f} | {held['bbc']:.3f} "
                  f"| {CHK.metrics(T.predict(m, CHK))['hit@1']:.3f} | {held['seeds']:.3f} | {held['squad']:.3f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
