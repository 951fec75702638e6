"""Train the second stage (qa/rerank.py) and write qa/models/reranker.json.

    python benchmarks/train_reranker.py --bbc-index /tmp/bbc [--seed-index DIR] [--write]

Data, all public (../shared): the SQuAD public half (fit: the first half of its questions in
file order, so whole articles; held out: the rest), the seed questions
(tests/data/seed_questions.jsonl) and the BBC questions (tests/data/bbc_questions.jsonl);
of those two, questions with an even id number are fitted on and odd ones held out; the BBC
training questions (tests/data/bbc_train_questions*.jsonl and bbc_below_lead_questions_*.jsonl,
ids t…, about other articles of the archive than the evaluation sets') are all fitted on; the
BBC check set (tests/data/bbc_check_questions.jsonl) is only reported. Nothing held out is
fitted on, and no hyper-parameter is chosen on it: the candidate count, the rounds and the news
weight are chosen by two-fold cross-validation on the fit parts.

Before it: benchmarks/train_question_encoder.py (the question-side model; its two fold models
give the fit questions' tuned-question features out of fold).

Steps: every question is asked the way `qa.answer` asks it (follow-ups rewritten), and the
first stage's best `MAX_TOP` candidates are described by `qa.rerank.features` with a label
(does the sentence hold a support text); the dumps are cached in benchmarks/data/rerank/.
A LightGBM LambdaRank model is fitted on the fit parts (news questions repeated a few
times: they are few, and they are what readers ask). A LightGBM classifier over the same
features plus the ranker's score (out of fold) and its gap to the best gives P(the sentence
answers); the two thresholds (answer at all; quote a further sentence) are fitted on its
out-of-fold probabilities on the fit parts. Figures for every part, the first stage beside, are
printed and written into the model file. Fixed seed; CPU; a few minutes. `--lead-weight N`
counts the BBC questions that their article's lead answers N times instead of the news weight
(measured with benchmarks/lead_weight.py; the shipped model does not use it).

What is left out: the first stage (`qa.search`), serving (`qa.rerank`).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from qa.cross_encoder import MODEL_PATH as READER_PATH  # noqa: E402
from qa.rerank import FEATURES, MODEL_PATH, answer_inputs  # noqa: E402

DATA = HERE / "data" / "rerank"
BBC = ROOT.parent / "shared" / "corpora" / "bbc-2005"
# the BBC training-only questions (ids t…): bbc_train_questions.jsonl and ..._more.jsonl, then
# the 200 about sentences below their article's lead (bbc_below_lead_questions_a.jsonl, _b.jsonl)
TRAIN_QUESTIONS = sorted((ROOT / "tests" / "data").glob("bbc_train_questions*.jsonl")) + \
    sorted((ROOT / "tests" / "data").glob("bbc_below_lead_questions_*.jsonl"))
# an independent check (tests/test_bbc_eval.py): reported, never fitted on
CHECK_QUESTIONS = ROOT / "tests" / "data" / "bbc_check_questions.jsonl"


def bbc_questions(train_set: bool = True) -> list[dict]:
    """The BBC evaluation set, then (`train_set`) the training-only questions, in file order."""
    from qa.evaluate import load_questions
    extra = TRAIN_QUESTIONS if train_set else []
    return load_questions(ROOT / "tests/data/bbc_questions.jsonl") + [q for f in extra for q in load_questions(f)]
MAX_TOP = 50
LEAD = 2  # an article's first sentences: its lead (`Part.lead_answered`)
SEED = 0
ANSWER_ROUNDS = 200
ANSWER_PARAMS = {"objective": "binary", "learning_rate": 0.05, "num_leaves": 7, "min_data_in_leaf": 100,
                 "feature_fraction": 0.7, "bagging_fraction": 0.8, "bagging_freq": 1, "lambda_l2": 1.0,
                 "seed": SEED, "deterministic": True, "force_row_wise": True, "num_threads": 2, "verbose": -1}
PARAMS = {"objective": "lambdarank", "metric": "ndcg", "ndcg_eval_at": [1, 3], "learning_rate": 0.05,
          "num_leaves": 7, "min_data_in_leaf": 100, "feature_fraction": 0.7, "bagging_fraction": 0.8,
          "bagging_freq": 1, "lambda_l2": 1.0, "seed": SEED, "deterministic": True,
          "force_row_wise": True, "num_threads": 2, "verbose": -1, "lambdarank_truncation_level": 20}


# ------------------------------------------------------------------ dumps

def towers(name: str, questions: list[dict]) -> list:
    """Per question of the dump `name`, the question-side model (`qa.question_encoder`) that
    embeds it: for a fit question the one trained without its half of the fit questions
    (benchmarks/train_question_encoder.py; out of fold, so the ranker learns how far to trust
    the tuned cosine on questions it was not tuned on), else the shipped one (None: off)."""
    import train_question_encoder as tqe
    from qa import question_encoder
    shipped = question_encoder.default()
    if shipped is None:
        return [None] * len(questions)
    if name.endswith("-ablated"):  # made of fit questions only
        fit = np.ones(len(questions), bool)
    elif name in ("squad", "seeds", "bbc"):
        fit = fit_flags(name, [q["id"] for q in questions])
    else:  # the check set and anything else: never fitted on
        fit = np.zeros(len(questions), bool)
    missing = [str(tqe.fold_path(f)) for f in (0, 1) if not tqe.fold_path(f).exists()]
    if missing:
        raise SystemExit(f"no {', '.join(missing)}: run benchmarks/train_question_encoder.py first "
                         "(or QA_QUESTION_ENCODER=off for a ranker without the tuned question)")
    folds = [question_encoder.QuestionEncoder(tqe.fold_path(f)) for f in (0, 1)]
    return [folds[tqe.fold_of(q["id"])] if f else shipped for q, f in zip(questions, fit)]


def ablation(index, ablate: str | None):
    """Which of a question's candidate rows stay (a function of the question and the rows):
    all of them, or (`ablate`) none from what answers it, so that a question the articles
    answer becomes one they do not: "paragraph" leaves out the question's gold paragraph (SQuAD,
    whose other paragraphs are about the same subject), "articles" every article that answers
    it (the BBC set's `articles`)."""
    if ablate == "paragraph":
        import re
        para_of: dict = {}
        for j in range(len(index.para)):
            para_of.setdefault(re.sub(r"\s+", " ", index.paragraph_text(j)).strip(), []).append(j)
        return lambda q, rows: ~np.isin(index.sent[rows, 1], para_of.get(q["context"], []))
    if ablate == "articles":
        entry_of = {e.article.id: r for r, e in enumerate(index.entries)}

        def kept(q, rows):
            stems = [a.rsplit(".", 1)[0] for a in q.get("articles", [])]
            return ~np.isin(index.sent[rows, 0], [entry_of[s] for s in stems if s in entry_of])
        return kept
    return lambda q, rows: np.ones(len(rows), bool)


def asked_candidates(index, emb, q: dict, kept, top: int):
    """Question `q` as `qa.answer` asks it (a follow-up rewritten) and the first stage's best
    `top` candidates among the rows `kept` (`ablation`) leaves: (query, its vector, the rows, their
    first-stage features, their fused scores), best first."""
    from qa.answer import resolve
    from qa.search import candidates, fuse
    query = resolve(index, emb, q["question"], q.get("history") or [])
    qvec = emb.encode([query])[0]
    rows, feats = candidates(index, qvec, query)
    keep = kept(q, rows)
    rows, feats = rows[keep], {f: v[keep] for f, v in feats.items()}
    fused = fuse(feats)
    head = np.argsort(-fused, kind="stable")[:top]
    return query, qvec, rows[head], {f: v[head] for f, v in feats.items()}, fused[head]


def dump(lib, questions: list[dict], path: Path, top: int = MAX_TOP, ablate: str | None = None,
         tuned: list | None = None) -> dict:
    """Features and labels of the first stage's best `top` candidates of every question
    (`tuned`: per question, the question-side model that embeds it, `towers`).

    `ablate` (`ablation`) makes questions the articles do not answer out of ones they do, for
    the answer classifier."""
    from qa.evaluate import is_correct
    from qa.rerank import features
    index, emb = lib.index, lib.embedder
    X, y, g, answerable, cand_rows, qvecs = [], [], [], [], [], []
    kept = ablation(index, ablate)
    t = time.perf_counter()
    for n, q in enumerate(questions):
        query, qvec, rows, feats, fused = asked_candidates(index, emb, q, kept, top)
        asked = " ".join(q["question"].split())
        X.append(features(index, qvec, query, rows, feats, fused,
                          asked, emb.encode_few, tuned[n].encode(query) if tuned and tuned[n] else None))
        y.append(np.array([is_correct(index.sentence_text(int(r)), q) for r in rows], dtype=np.int8))
        answerable.append(bool(q["support"]) and (not ablate or bool(y[-1].any())))
        g.append(np.full(len(rows), n, dtype=np.int32))
        cand_rows.append(rows)
        qvecs.append(np.asarray(qvec, dtype=np.float32))
        if n % 1000 == 999:
            print(f"  {n + 1}/{len(questions)} ({time.perf_counter() - t:.0f}s)", file=sys.stderr)
    d = {"X": np.concatenate(X), "y": np.concatenate(y), "g": np.concatenate(g),
         "ids": np.array([q["id"] for q in questions]),
         "answerable": np.array(answerable),
         "rows": np.concatenate(cand_rows).astype(np.int64), "qvecs": np.stack(qvecs),
         "features": np.array(FEATURES)}
    np.savez_compressed(path, **d)
    return d


def load_or_dump(name: str, make_lib, questions: list[dict], fresh: bool, ablate: str | None = None) -> dict:
    path = DATA / f"{name}.npz"
    if path.exists() and not fresh:
        d = dict(np.load(path))
        if tuple(d["features"]) == FEATURES and list(d["ids"]) == [q["id"] for q in questions] and "rows" in d:
            return d
    DATA.mkdir(parents=True, exist_ok=True)
    print(f"dumping {name}: {len(questions)} questions", file=sys.stderr)
    return dump(make_lib(), questions, path, ablate=ablate, tuned=towers(name, questions))


def squad_set(limit: int = 0):
    import squad
    art_dir, questions = squad.convert(squad.DATA)
    if limit:
        questions = questions[:limit]

    def make():
        lib = squad.library(art_dir)
        lib.embedder.prime([q["question"] for q in questions], squad.WORK / "question_vecs.npz")
        return lib
    return make, questions


# ------------------------------------------------------------------ parts

class Part:
    """The questions of one set that belong to one part (fit or held out), as LightGBM groups."""

    def __init__(self, d: dict, keep: np.ndarray, top: int):
        qs = np.flatnonzero(keep)
        m = np.isin(d["g"], qs)
        rank = d["X"][:, FEATURES.index("rank")]
        m &= rank < top
        self.X, self.y, g = d["X"][m], d["y"][m], d["g"][m]
        self.rows = d["rows"][m] if "rows" in d else None  # candidate sentence rows (dumps)
        self.qids = qs
        self.ids = [str(d["ids"][i]) for i in qs]
        self.answerable = d["answerable"][qs]
        self.g = np.searchsorted(qs, g)
        # questions with no candidate row (an empty index part) still count, as misses
        self.sizes = np.bincount(self.g, minlength=len(qs))

    def first_stage(self) -> np.ndarray:
        return -self.X[:, FEATURES.index("rank")]

    def ranks(self, s: np.ndarray) -> np.ndarray:
        """Rank of the first correct sentence per question under scores `s` (inf: none in reach)."""
        out = np.full(len(self.qids), np.inf)
        for q in range(len(self.qids)):
            m = self.g == q
            if not self.y[m].any():
                continue
            ss, yy = s[m], self.y[m].astype(bool)
            best = ss[yy].max()
            out[q] = 1 + int(np.sum((ss > best) | ((ss == best) & ~yy)))
        return out

    def subset(self, keep: np.ndarray) -> "Part":
        """The questions of this part where `keep` (one flag per question)."""
        d = {"X": self.X, "y": self.y, "g": self.g, "answerable": self.answerable, "ids": self.qids}
        return Part(d, keep, 10 ** 9)

    def lead_answered(self) -> np.ndarray:
        """Per question: whether a sentence that answers it is among its article's first `LEAD`."""
        out = np.zeros(len(self.qids), bool)
        lead = self.y.astype(bool) & (self.X[:, FEATURES.index("position")] < LEAD)
        out[self.g[lead]] = True
        return out

    def metrics(self, s: np.ndarray) -> dict:
        r = self.ranks(s)[self.answerable]
        return {"n": int(self.answerable.sum()), "hit@1": float(np.mean(r == 1)), "hit@3": float(np.mean(r <= 3)),
                "mrr@10": float(np.mean(np.where(r <= 10, 1 / r, 0))), "in_reach": float(np.mean(np.isfinite(r)))}


# Signals that may only help a sentence, never hurt it: more of the question's meaning, words
# or numbers, a better first-stage place. Without this the ranker, on six near-identical
# sentences ("the harbour of town 1 ... town 4 ..."), picks by incidental features.
INCREASING = ("dense", "dense_para", "dense_ctx", "coverage", "own_cov", "art_cov", "q_numbers", "fused",
              "fused_gap", "dense_topicless", "ctx_cov", "dense_masked", "masked_topicless",
              "kind_match")
DECREASING = ("rank",)


def monotone() -> list[int]:
    return [1 if f in INCREASING else -1 if f in DECREASING else 0 for f in FEATURES]


def fit_model(parts: list[tuple[Part, int]], rounds: int):
    import lightgbm as lgb
    X = np.concatenate([np.concatenate([p.X] * w) for p, w in parts])
    y = np.concatenate([np.concatenate([p.y] * w) for p, w in parts])
    sizes = np.concatenate([np.concatenate([p.sizes[p.sizes > 0]] * w) for p, w in parts])
    ds = lgb.Dataset(X, y, group=sizes, feature_name=list(FEATURES),
                     categorical_feature=[FEATURES.index("qkind")], free_raw_data=False)
    return lgb.train({**PARAMS, "monotone_constraints": monotone()}, ds, num_boost_round=rounds)


def predict(model, part: Part) -> np.ndarray:
    return model.predict(part.X, num_threads=2) if len(part.X) else np.zeros(0)


def gaps(part: Part, s: np.ndarray) -> np.ndarray:
    top = np.full(len(part.qids), -np.inf)
    np.maximum.at(top, part.g, s)
    return s - top[part.g]


def best_of(part: Part, p: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per question: the probability of the sentence the ranker puts first, and whether it is correct."""
    top_p = np.full(len(part.qids), 0.0)
    top_y = np.zeros(len(part.qids), bool)
    for q in range(len(part.qids)):
        m = np.flatnonzero(part.g == q)
        if len(m):
            i = m[np.argmax(s[m])]
            top_p[q], top_y[q] = p[i], bool(part.y[i])
    return top_p, top_y


def auc(pos, neg) -> float:
    """P(a score of `pos` is above one of `neg`), ties counting half: the area under the ROC curve."""
    pos, neg = np.asarray(pos), np.asarray(neg)
    return float(np.mean(pos[:, None] > neg[None, :]) + 0.5 * np.mean(pos[:, None] == neg[None, :]))


def answer_threshold(top_p: np.ndarray, answerable: np.ndarray, max_false: float) -> float:
    """The highest threshold that declines at most `max_false` of the answerable questions
    (midway to the next score below, for margin): as many unanswerable declined as that allows."""
    pos = np.sort(top_p[answerable])
    allowed = int(np.floor(max_false * len(pos)))
    lo = pos[allowed]  # this answerable question must still be answered
    below = top_p[top_p < lo]
    return float((lo + below.max()) / 2) if len(below) else float(lo * 0.9)


def more_threshold(parts: list[tuple[Part, np.ndarray, np.ndarray]], k: int = 3, keep: float = 0.9) -> float:
    """The probability a further quote must have: among the ranker's 2nd..k-th sentences, the
    highest bar that still keeps `keep` of the right ones (a reader loses little; most wrong
    ones below it go)."""
    ps, ys = [], []
    for part, p, s in parts:
        for q in range(len(part.qids)):
            m = np.flatnonzero(part.g == q)
            order = m[np.argsort(-s[m], kind="stable")][1:k]
            ps.append(p[order])
            ys.append(part.y[order].astype(bool))
    ps, ys = np.concatenate(ps), np.concatenate(ys)
    right = np.sort(ps[ys])
    t = float(right[int(np.floor((1 - keep) * len(right)))]) if len(right) else 0.0
    print(f"more: bar {t:.3f} keeps {np.mean(ps[ys] >= t):.2f} of {ys.sum()} right later sentences, "
          f"drops {np.mean(ps[~ys] < t):.2f} of {(~ys).sum()} wrong ones", file=sys.stderr)
    return t


# ------------------------------------------------------------------ main

def fitted(qid: str) -> bool:
    """Fitted on: the BBC training questions (ids t…) and the even ids of the seed and BBC sets."""
    from qa.evaluate import in_part
    return qid.startswith("t") or in_part(qid, "even")


def fit_flags(name: str, ids: list[str]) -> np.ndarray:
    """Which questions of the set `name` are fitted on: SQuAD's first half of questions (whole
    articles); of the others, the `fitted` ids."""
    if name == "squad":
        return np.arange(len(ids)) < len(ids) // 2
    return np.array([fitted(str(i)) for i in ids], dtype=bool)


def libraries_and_questions(bbc_index, seed_index=ROOT / "index", squad_limit: int = 0,
                            train_set: bool = True) -> tuple[dict, dict]:
    """Per set ("squad", "seeds", "bbc"): what makes its library, and its questions."""
    from qa import Library
    from qa.evaluate import load_questions
    make_squad, squad_q = squad_set(squad_limit)
    libraries = {"squad": make_squad,
                 "seeds": lambda: Library(index_dir=seed_index, seeds_dir=ROOT / "seeds"),
                 "bbc": lambda: Library(index_dir=bbc_index, seeds_dir=BBC)}
    questions = {"squad": squad_q, "seeds": load_questions(ROOT / "tests/data/seed_questions.jsonl"),
                 "bbc": bbc_questions(train_set)}
    return libraries, questions


def ablated_questions(questions: dict) -> dict:
    """Per set ("squad", "bbc"): its answerable fit questions that are made unanswerable for
    the answer classifier (and the question model), and how (`ablation`)."""
    def fit(name):
        flags = fit_flags(name, [q["id"] for q in questions[name]])
        return [q for q, f in zip(questions[name], flags) if f and q["support"]]
    return {"squad": (fit("squad"), "paragraph"), "bbc": (fit("bbc"), "articles")}


def datasets(bbc_index, seed_index=ROOT / "index", fresh: bool = False, squad_limit: int = 0,
             train_set: bool = True) -> tuple[dict, dict, dict]:
    """Per set ("squad", "seeds", "bbc"): what makes its library, its questions, its feature dump."""
    libraries, questions = libraries_and_questions(bbc_index, seed_index, squad_limit, train_set)
    return libraries, questions, {n: load_or_dump(n, libraries[n], questions[n], fresh) for n in libraries}


def fit_and_held(sets: dict, top: int) -> dict:
    """Per set: its (fit, held-out) Parts over the best `top` candidates (`fit_flags`)."""
    out = {}
    for name, d in sets.items():
        fit = fit_flags(name, list(d["ids"]))
        out[name] = (Part(d, fit, top), Part(d, ~fit, top))
    return out


def weighted(fit: dict, news_weight: int, seed_weight: int | None = None,
             lead_weight: int | None = None) -> list[tuple[Part, int]]:
    """The fit parts (by set name) with how many times each counts: SQuAD once, the news sets
    `news_weight` times (the seeds `seed_weight` where given), and the BBC questions that their
    article's lead answers `lead_weight` times where given (split off after any fold is taken,
    so no question changes fold)."""
    out = [(fit["squad"], 1), (fit["seeds"], seed_weight or news_weight)]
    lw = news_weight if lead_weight is None else lead_weight
    if lw == news_weight:
        return out + [(fit["bbc"], news_weight)]
    lead = fit["bbc"].lead_answered()
    return out + [(p, w) for p, w in ((fit["bbc"].subset(~lead), news_weight), (fit["bbc"].subset(lead), lw))
                  if len(p.qids)]


def main(argv=None) -> int:
    from qa.evaluate import load_questions
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bbc-index", required=True, help="an index of ../shared/corpora/bbc-2005")
    p.add_argument("--seed-index", default=str(ROOT / "index"), help="an index of seeds/ (default: index/)")
    p.add_argument("--squad-limit", type=int, default=0)
    p.add_argument("--fresh", action="store_true", help="dump the features again")
    p.add_argument("--top", type=int, help="skip the cross-validation: this candidate count (with "
                   "--news-weight and --rounds, as the last full run chose them)")
    p.add_argument("--news-weight", type=int, default=8)
    p.add_argument("--seed-weight", type=int, help="how many times a seed question counts (default: the "
                   "news weight); the seeds are 25 fit questions beside the BBC's 828")
    p.add_argument("--rounds", type=int, default=800)
    p.add_argument("--lead-weight", type=int, help="how many times a BBC training question counts when a "
                   "sentence among its article's first two answers it (default: the news weight)")
    p.add_argument("--no-train-set", action="store_true", help="leave out the BBC training questions "
                   "(tests/data/bbc_train_questions*.jsonl, bbc_below_lead_questions_*.jsonl)")
    p.add_argument("--reader", default=str(READER_PATH), help="the cross-encoder to combine with the "
                   "ranker (benchmarks/train_cross_encoder.py); 'off' for none")
    p.add_argument("--read-top", type=int, default=3, help="how many of the ranker's best the "
                   "cross-encoder reads (3: ~17 ms a question on 2 cores)")
    p.add_argument("--max-false", type=float, default=0.01, help="the share of answerable fit questions "
                   "(out of fold) the answer bar may decline: 1%%, a margin under the 2%% allowed on new questions")
    p.add_argument("--write", action="store_true", help=f"write {MODEL_PATH.relative_to(ROOT)}")
    args = p.parse_args(argv)
    np.random.seed(SEED)
    # the dumps ask the first stage (a follow-up's "he" is resolved with it too): the model
    # being trained must not depend on the one it replaces
    os.environ["QA_RERANKER"] = "off"

    libraries, questions, sets = datasets(args.bbc_index, args.seed_index, args.fresh, args.squad_limit,
                                          not args.no_train_set)
    abl_sets = {n: load_or_dump(f"{n}-ablated", libraries[n], qs, args.fresh, ablate=how)
                for n, (qs, how) in ablated_questions(questions).items()}

    def weights(fit: dict, news_weight: int) -> list:
        return weighted(fit, news_weight, args.seed_weight, args.lead_weight)

    def fit_parts(f: int | None = None) -> dict:
        """Every set's fit part, or its fold `f` of two."""
        return {n: ps[n][0] if f is None else folds(ps[n][0])[f] for n in ps}

    def folds(part: Part):
        """The fit part's questions in two folds (alternate questions)."""
        a = (np.arange(len(part.qids)) % 2 == 0)
        return part.subset(a), part.subset(~a)

    # --- choose the candidate count, the rounds and the news weight on the fit parts alone
    best = None
    grid = [(args.top, args.news_weight, args.rounds)] if args.top else \
        [(top, nw, rounds) for top in (30, 50) for nw in (4, 8, 16) for rounds in (200, 400, 800)]
    for top in sorted({g[0] for g in grid}):
        ps = fit_and_held(sets, top)
        for nw in sorted({g[1] for g in grid if g[0] == top}):
            for rounds in sorted({g[2] for g in grid if g[:2] == (top, nw)}):
                score = 0.0
                for f in (0, 1):
                    train = weights(fit_parts(f), nw)
                    test = list(fit_parts(1 - f).values())
                    m = fit_model(train, rounds)
                    # objective: hit@1 on each set, the news sets counted as much as SQuAD
                    score += sum(t.metrics(predict(m, t))["hit@1"] for t in test)
                print(f"cv top {top:2d} news weight {nw} rounds {rounds}: {score / 2:.4f}", file=sys.stderr)
                if best is None or score > best[0]:
                    best = (score, top, nw, rounds)
    _, top, nw, rounds = best
    print(f"chosen: rerank top {top}, news weight {nw}, {rounds} rounds", file=sys.stderr)
    ps = fit_and_held(sets, top)

    # --- the ranker, and out-of-fold scores: each fit question scored by the fold model that
    # did not see it; the ablated questions (made unanswerable) by the same fold model
    def fold_of(part: Part) -> np.ndarray:
        return (np.arange(len(part.qids)) % 2)[part.g]

    fold_models = [fit_model(weights(fit_parts(f), nw), rounds) for f in (0, 1)]
    rank_oof = {}
    for n in ps:
        part, fo = ps[n][0], fold_of(ps[n][0])
        rank_oof[n] = np.zeros(len(part.X))
        for f in (0, 1):
            rank_oof[n][fo == 1 - f] = fold_models[f].predict(part.X[fo == 1 - f], num_threads=2)
    ablated = {}
    for n, d in abl_sets.items():
        part = Part(d, np.ones(len(d["ids"]), bool), top)
        position = {ps[n][0].ids[i]: i for i in range(len(ps[n][0].qids))}
        fo = (np.array([position[i] for i in d["ids"]]) % 2)[part.g]
        sc = np.zeros(len(part.X))
        for f in (0, 1):
            sc[fo == 1 - f] = fold_models[f].predict(part.X[fo == 1 - f], num_threads=2)
        ablated[n] = (part, fo, sc)
    ranker = fit_model(weights(fit_parts(), nw), rounds)
    rank_scores = {n: (rank_oof[n], predict(ranker, ps[n][1])) for n in ps}

    # --- P(the sentence answers): a classifier over the features and the ranker's score
    def with_score(part, s):
        return answer_inputs(part.X, s, gaps(part, s))

    def fit_answers(rows):
        """rows: (Part, ranker scores, row mask, weight)."""
        import lightgbm as lgb
        X = np.concatenate([np.concatenate([with_score(p, s)[m]] * w) for p, s, m, w in rows])
        y = np.concatenate([np.concatenate([p.y[m]] * w) for p, s, m, w in rows])
        ds = lgb.Dataset(X, y, feature_name=list(FEATURES) + ["rank_score", "rank_gap"],
                         categorical_feature=[FEATURES.index("qkind")])
        return lgb.train({**ANSWER_PARAMS, "monotone_constraints": monotone() + [1, 1]}, ds,
                         num_boost_round=ANSWER_ROUNDS)

    ws = {"squad": 1, "seeds": nw, "bbc": nw}
    ans_oof = {n: np.zeros(len(ps[n][0].X)) for n in ps}
    abl_oof = {n: np.zeros(len(ablated[n][0].X)) for n in ablated}
    for f in (0, 1):
        rows = [(ps[n][0], rank_oof[n], fold_of(ps[n][0]) == f, ws[n]) for n in ps]
        rows += [(ablated[n][0], ablated[n][2], ablated[n][1] == f, ws[n]) for n in ablated]
        m = fit_answers(rows)
        for n in ps:
            sel = fold_of(ps[n][0]) == 1 - f
            ans_oof[n][sel] = m.predict(with_score(ps[n][0], rank_oof[n])[sel], num_threads=2)
        for n in ablated:
            sel = ablated[n][1] == 1 - f
            abl_oof[n][sel] = m.predict(with_score(ablated[n][0], ablated[n][2])[sel], num_threads=2)
    everything = lambda p: np.ones(len(p.X), bool)  # noqa: E731
    answers = fit_answers([(ps[n][0], rank_oof[n], everything(ps[n][0]), ws[n]) for n in ps]
                          + [(ablated[n][0], ablated[n][2], everything(ablated[n][0]), ws[n]) for n in ablated])

    for n in ("seeds", "bbc"):
        part = ps[n][0]
        tp, _ = best_of(part, ans_oof[n], rank_oof[n])
        mx = np.zeros(len(part.qids))
        np.maximum.at(mx, part.g, ans_oof[n])
        print(f"{n} fit: AUC answerable vs not, top p {auc(tp[part.answerable], tp[~part.answerable]):.3f}, "
              f"max p {auc(mx[part.answerable], mx[~part.answerable]):.3f}", file=sys.stderr)
        print("   answerable top p (lowest 8):", np.round(np.sort(tp[part.answerable])[:8], 3).tolist(),
              "unanswerable:", np.round(np.sort(tp[~part.answerable]), 3).tolist(), file=sys.stderr)
    news_top, news_ans = [], []
    for n in ("seeds", "bbc"):
        tp, _ = best_of(ps[n][0], ans_oof[n], rank_oof[n])
        news_top.append(tp)
        news_ans.append(ps[n][0].answerable)
    t_answer = answer_threshold(np.concatenate(news_top), np.concatenate(news_ans), max_false=args.max_false)
    t_more = more_threshold([(ps[n][0], ans_oof[n], rank_oof[n]) for n in ("seeds", "bbc")])
    for n in ablated:
        tp, _ = best_of(ablated[n][0], abl_oof[n], ablated[n][2])
        un = ~ablated[n][0].answerable
        print(f"{n} made unanswerable (fit, out of fold): {np.mean(tp[un] < t_answer):.2f} of {un.sum()} declined",
              file=sys.stderr)

    reader = None
    if args.reader != "off" and Path(args.reader).exists():
        from combine_reader import fit_reader
        reader = fit_reader(args.reader, ps, rank_oof, ans_oof, rank_scores,
                            {n: answers.predict(with_score(ps[n][1], rank_scores[n][1]), num_threads=2) for n in ps},
                            libraries, questions, args.read_top)
    else:
        print(f"no cross-encoder ({args.reader}): the ranker alone", file=sys.stderr)

    report = {}
    print("\n| set | part | questions | first stage hit@1 | reranked hit@1 | first hit@3 | reranked hit@3 "
          "| declined unanswerable | answerable declined |\n|---|---|---|---|---|---|---|---|---|")
    rows = []  # (report key, set, part label, Part, ranker scores, P(answers))
    for name in ps:
        for j, (label, part) in enumerate(zip(("fit (out of fold)", "held-out"), ps[name])):
            s = rank_scores[name][j]
            pr = ans_oof[name] if j == 0 else answers.predict(with_score(part, s), num_threads=2)
            rows.append((f"{name} {label}", name, label, part, s, pr))
    # the check set: never fitted on nor used to choose anything; reported beside the rest
    d = load_or_dump("bbc-check", libraries["bbc"], load_questions(CHECK_QUESTIONS), args.fresh)
    part = Part(d, np.ones(len(d["ids"]), bool), top)
    s = predict(ranker, part)
    rows.append(("bbc check", "bbc check", "never fitted", part, s,
                 answers.predict(with_score(part, s), num_threads=2)))
    for key, name, label, part, s, pr in rows:
        a, b = part.metrics(part.first_stage()), part.metrics(s)
        tp, _ = best_of(part, pr, s)
        un = ~part.answerable
        declined_un = float(np.mean(tp[un] < t_answer)) if un.any() else None
        declined_ans = int(np.sum(tp[part.answerable] < t_answer))
        report[key] = {"first": a, "reranked": b, "declined_unanswerable": declined_un,
                       "answerable_declined": declined_ans}
        du = "–" if declined_un is None else f"{declined_un:.2f} of {int(un.sum())}"
        print(f"| {name} | {label} | {a['n']} | {a['hit@1']:.3f} | {b['hit@1']:.3f} | {a['hit@3']:.3f} "
              f"| {b['hit@3']:.3f} | {du} | {declined_ans} |")
    gain = ranker.feature_importance("gain")
    imp = sorted(zip(FEATURES, (gain / gain.sum()).round(4).tolist()), key=lambda x: -x[1])
    print("\nranker feature gain:", ", ".join(f"{f} {v:.3f}" for f, v in imp))
    print(f"thresholds: answer {t_answer:.3f}, more {t_more:.3f}")
    if args.write:
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        MODEL_PATH.write_text(json.dumps({
            "features": list(FEATURES), "rerank_top": top, "rounds": rounds, "params": PARAMS,
            "news_weight": nw, "answer_params": ANSWER_PARAMS, "answer_rounds": ANSWER_ROUNDS,
            "thresholds": {"answer": t_answer, "more": t_more}, "report": report,
            **({"cross_encoder": reader} if reader else {}),
            "feature_gain": dict(imp), "ranker": ranker.model_to_string(),
            "answers": answers.model_to_string()}), "utf-8")
        print(f"wrote {MODEL_PATH} ({MODEL_PATH.stat().st_size / 1e6:.2f} MB)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
