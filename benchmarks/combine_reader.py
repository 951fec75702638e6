"""How much the cross-encoder counts beside the LightGBM ranker: fitted for benchmarks/train_reranker.py.

The ranker's best few candidates of a question (2 or 3) are read by the cross-encoder
(qa/cross_encoder.py) and ordered by the ranker's score plus `beta` times the reader's (how
many and `beta` chosen on summed hit@1); a logistic model over both scores and the ranker's
probability (`qa.rerank.combine_inputs`) gives the probability that each answers. It is fitted on news questions of the fit parts that the cross-encoder did not learn
from (the even ids of the BBC and seed sets: benchmarks/train_cross_encoder.py trains on SQuAD's
fit half and the BBC training questions), on the ranker's out-of-fold scores; the two thresholds
(answer at all; quote a further sentence) are fitted on its out-of-fold probabilities there
(two folds), as the ranker's own are.

`fit_reader` is the step benchmarks/train_reranker.py runs after fitting the ranker.

What is left out: the ranker and its classifier (train_reranker), the reader's training.
"""

from __future__ import annotations

import sys

import numpy as np

READ_TOP = 3  # the most read: ~17 ms a question on 2 cores (5 took ~36 ms)
TOPS = (2, 3)
BETAS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0)  # 0: the reader left out
C = 1.0  # the logistic model's inverse regularisation (sklearn's default)


def reader_inputs(part, s, p, read, top: int = READ_TOP, only=None):
    """Per question of `part` (or of those in `only`): the indices of the ranker's best `top`
    rows (by `s`), and the combiner's inputs and labels for them. `read(qi, rows)` gives the
    reader's scores."""
    from qa.rerank import combine_inputs
    out = []
    for q in (range(len(part.qids)) if only is None else only):
        m = np.flatnonzero(part.g == q)
        few = m[np.argsort(-s[m], kind="stable")[:top]]
        if not len(few):
            out.append((few, np.zeros((0, 5)), np.zeros(0)))
            continue
        c = read(q, part.rows[few])
        out.append((few, combine_inputs(s[few], p[few], c), part.y[few]))
    return out


def fit(rows):
    from sklearn.linear_model import LogisticRegression
    X = np.concatenate([r[1] for r in rows if len(r[0])])
    y = np.concatenate([r[2] for r in rows if len(r[0])])
    return LogisticRegression(C=C, max_iter=1000).fit(X, y)


def apply(model, rows, s, p, beta: float, top: int, probabilities: bool = True):
    """`s`, `p` with each question's best `top` re-scored as qa.rerank does at serving: ordered
    by the ranker's score plus `beta` times the reader's, each with the logistic `model`'s
    probability."""
    s, p = s.copy(), p.copy()
    for few, X, _ in rows:
        few, X = few[:top], X[:top]
        if not len(few):
            continue
        z = X[:, 0] + beta * X[:, 3]
        s[few] = s[few].min() + 1.0 + z - z.min()
        if probabilities:
            p[few] = 1.0 / (1.0 + np.exp(-(X @ model.coef_[0] + model.intercept_[0])))
    return s, p


def out_of_fold(rows, s, p, beta: float, top: int, folds=2):
    """Each question re-scored with a logistic model fitted on the other fold's questions."""
    s2, p2 = s.copy(), p.copy()
    for f in range(folds):
        train = [(few[:top], X[:top], y[:top]) for i, (few, X, y) in enumerate(rows) if i % folds != f]
        test = [r for i, r in enumerate(rows) if i % folds == f]
        a, b = apply(fit(train), test, s, p, beta, top)
        for few, _, _ in test:
            s2[few[:top]], p2[few[:top]] = a[few[:top]], b[few[:top]]
    return s2, p2


def choose(fitted, metric):
    """(top, beta) with the best summed hit@1 over the fitted news sets (`metric(n, s)` for the
    re-scored `s` of set `n`); ties go to fewer candidates read and a smaller beta, so beta 0
    (the ranker alone) unless the reader does better."""
    best = None
    for top in TOPS:
        for beta in BETAS:
            each = {n: metric(n, apply(None, rows, s, p, beta, top, probabilities=False)[0])
                    for n, s, p, rows in fitted}
            score = sum(each.values())
            log(f"reader: top {top}, beta {beta}: hit@1 " + ", ".join(f"{n} {v:.3f}" for n, v in each.items()))
            if best is None or score > best[0] + 1e-9:
                best = (score, top, beta)
    return best[1], best[2]


def describe(model) -> str:
    names = ("ranker score", "its gap to the best", "logit of P(answers)", "reader score", "its gap to the best")
    return ", ".join(f"{n} {w:+.3f}" for n, w in zip(names, model.coef_[0])) + f", intercept {model.intercept_[0]:+.3f}"


def fit_reader(path, ps, rank_oof, ans_oof, rank_scores, held_p, libraries, questions, read_top: int) -> dict | None:
    """Fit how the cross-encoder at `path` combines with the ranker (benchmarks/combine_reader.py)
    on the news fit questions it did not learn from; print the figures with and without it;
    return the model file's "cross_encoder" entry."""
    from qa.cross_encoder import CrossEncoder
    from train_reranker import answer_threshold, best_of
    from train_cross_encoder import candidate_text, searched
    ce = CrossEncoder(path)
    report, rows_of, fitted_rows = {}, {}, []
    for n in ps:
        lib = libraries[n]()
        text = candidate_text(lib.index)
        qs = questions[n]
        for j, part in enumerate(ps[n]):
            if n == "squad" and j == 0:
                continue  # the reader learnt from SQuAD's fit half
            s, p = (rank_oof[n], ans_oof[n]) if j == 0 else (rank_scores[n][1], held_p[n])
            # the fit part's even ids: questions the reader did not learn from (not the t… ones)
            keep = [q for q in range(len(part.qids)) if j == 1 or not part.ids[q].startswith("t")]
            rows = reader_inputs(part, s, p, lambda q, r: ce.score(searched(lib, qs[part.qids[q]]),
                                                                      [text(int(x)) for x in r]),
                                    top=read_top, only=keep)
            if j == 0:
                fitted_rows += [(n, part, s, p, rows, keep)]
            rows_of[(n, j)] = (part, s, p, rows)
    top, beta = choose([(n, s, p, rows) for n, part, s, p, rows, keep in fitted_rows],
                          lambda n, s2: next(_metrics_of(part, s2, np.isin(part.qids, [part.qids[q] for q in keep]))
                                             for m, part, _, _, _, keep in fitted_rows if m == n)["hit@1"])
    model = fit([(few[:top], X[:top], y[:top]) for _, _, _, _, rows, _ in fitted_rows for few, X, y in rows])
    log(f"reader: the ranker's best {top} read, beta {beta}; probability:", describe(model))
    # out of fold on the fitted questions: figures and thresholds
    top_p, answerable, later_p, later_y = [], [], [], []
    for n, part, s, p, rows, keep in fitted_rows:
        s2, p2 = out_of_fold(rows, s, p, beta, top)
        sub = [part.qids[q] for q in keep]
        for q in keep:
            m = np.flatnonzero(part.g == q)
            order = m[np.argsort(-s2[m], kind="stable")]
            top_p.append(p2[order[0]] if len(order) else 0.0)
            answerable.append(bool(part.answerable[q]))
            later_p += p2[order[1:3]].tolist()
            later_y += part.y[order[1:3]].astype(bool).tolist()
        mask = np.isin(part.qids, sub)
        a, b = _metrics_of(part, s, mask), _metrics_of(part, s2, mask)
        report[f"{n} fit, even ids (out of fold)"] = {"ranker": a, "with reader": b}
    top_p, answerable = np.array(top_p), np.array(answerable)
    t_answer = answer_threshold(top_p, answerable, max_false=0.02)
    right = np.sort(np.array(later_p)[np.array(later_y, bool)])
    t_more = float(right[int(np.floor(0.1 * len(right)))]) if len(right) else 0.0
    log(f"reader thresholds: answer {t_answer:.3f} (declines {np.mean(top_p[~answerable] < t_answer):.2f} of "
           f"{(~answerable).sum()} unanswerable fit questions, {np.sum(top_p[answerable] < t_answer)} of "
           f"{answerable.sum()} answerable), more {t_more:.3f}")
    for (n, j), (part, s, p, rows) in rows_of.items():
        if j == 1:
            s2, p2 = apply(model, rows, s, p, beta, top)
            tp, _ = best_of(part, p2, s2)
            un = ~part.answerable
            report[f"{n} held-out"] = {"ranker": part.metrics(s), "with reader": part.metrics(s2),
                                       "declined_unanswerable": float(np.mean(tp[un] < t_answer)) if un.any() else None,
                                       "answerable_declined": int(np.sum(tp[part.answerable] < t_answer))}
    print("\n| set | part | ranker hit@1 | + reader hit@1 | ranker hit@3 | + reader hit@3 |\n|---|---|---|---|---|---|")
    for k, v in report.items():
        print(f"| {k} | {v['ranker']['n']} | {v['ranker']['hit@1']:.3f} | {v['with reader']['hit@1']:.3f} "
              f"| {v['ranker']['hit@3']:.3f} | {v['with reader']['hit@3']:.3f} |")
    if beta == 0:
        print("the cross-encoder does not raise hit@1 on the fit questions it did not learn from: "
              "the model file leaves it out", file=sys.stderr)
        return None
    return {"top": top, "beta": beta, "coef": model.coef_[0].tolist(), "intercept": float(model.intercept_[0]),
            "thresholds": {"answer": t_answer, "more": t_more}, "report": report}


def _metrics_of(part, s: np.ndarray, mask: np.ndarray) -> dict:
    """`part.metrics(s)` over the questions in `mask` only."""
    r = part.ranks(s)[part.answerable & mask]
    return {"n": int(len(r)), "hit@1": float(np.mean(r == 1)), "hit@3": float(np.mean(r <= 3)),
            "mrr@10": float(np.mean(np.where(r <= 10, 1 / r, 0)))}


def log(*a):
    print(*a, file=sys.stderr)
