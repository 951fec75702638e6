"""Second stage: among the first stage's best sentences, the ones that answer the question.

The first stage (`qa.search`) finds the sentences near the question; on a news archive the
lead and every sentence that restates the question's topic are near it, while the sentence
that answers holds what was asked for. So each of the first stage's best `RERANK_TOP`
candidates is described by what it holds beside its similarities (`qa.rerank_features`:
answer-bearing cues, the question's terms weighed within the candidate's article, the
similarities with the article's topic and the question's names taken out, its place).

A LightGBM LambdaRank model orders them, and a LightGBM classifier over the same features
and the ranker's score gives the probability that a sentence answers, which `qa.answer`
uses to abstain and to stop quoting. Both were fitted by `benchmarks/train_reranker.py`
and ship in `qa/models/` with a model card; `QA_RERANKER=off` turns the stage off and
`QA_RERANKER=PATH` loads another model file. A model file may also name how a cross-encoder
(`qa.cross_encoder`) that reads the ranker's best few sentences counts beside it; the shipped
one names none (the one trained here did not pay off: see the model card).

The question without its names and the question-side model's vector depend on the question
alone: they are embedded on worker threads while the question's own vector is made and the first
stage searches (`QuestionSide`), so the second stage adds little waiting beside its CPU time.

What is left out: candidate generation (`qa.search`), training (`benchmarks/`).
"""

from __future__ import annotations

import copy
import json
import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .model_files import chosen
from .rerank_features import RERANK_TOP, FEATURES, features, focus_terms, question_kind  # noqa: F401  (re-exported)
from .search import FEATURES as FIRST_STAGE, Hit, candidates, fuse
from .topic_mask import masked_question

MODEL_PATH = Path(__file__).resolve().parent / "models" / "reranker.json"
# RERANK_TOP (qa.rerank_features): first-stage candidates the second stage re-orders; the rest
# keep their order below them.


def _pair_text(index, row: int) -> str:
    from .cross_encoder import pair_text
    return pair_text(index.sentence_text(row), index.article(int(index.sent[row, 0])).title)


def answer_inputs(X: np.ndarray, s: np.ndarray, gap: np.ndarray) -> np.ndarray:
    """What the answer classifier reads: the features, the ranker's score and its gap to the
    question's best score (one place for serving and training)."""
    return np.column_stack([X, s, gap]).astype(np.float32)


class Reranker:
    """The shipped second stage: a LightGBM ranking model, and a LightGBM classifier that reads
    the same features plus the ranker's score (and its gap to the best) as the probability
    that a sentence answers."""

    def __init__(self, path: str | Path = MODEL_PATH):
        import lightgbm as lgb
        spec = json.loads(Path(path).read_text("utf-8"))
        if tuple(spec["features"]) != FEATURES:
            raise ValueError(f"{path}: the model was trained on other features; retrain it "
                             "(benchmarks/train_reranker.py)")
        self.path = str(path)
        self.top = int(spec.get("rerank_top", RERANK_TOP))
        self.ranker = lgb.Booster(model_str=spec["ranker"])
        self.answers = lgb.Booster(model_str=spec["answers"])
        self.thresholds = spec["thresholds"]  # "answer": the best must clear it; "more": later quotes
        self.base_thresholds = self.thresholds
        # the cross-encoder (qa.cross_encoder) over the ranker's best few, where the file says how
        # its score combines with the ranker's and the model is there
        self.reader = None
        combine = spec.get("cross_encoder")
        if combine:
            from . import cross_encoder
            self.reader = cross_encoder.default()
            if self.reader is not None:
                self.read_top = int(combine["top"])
                self.beta = float(combine["beta"])
                self.coef = np.asarray(combine["coef"], dtype=np.float64)
                self.intercept = float(combine["intercept"])
                self.thresholds = combine["thresholds"]

    def without_reader(self) -> "Reranker":
        """The same ranker with the cross-encoder left out (and the thresholds fitted without it)."""
        alone = copy.copy(self)
        alone.reader, alone.thresholds = None, self.base_thresholds
        return alone

    def score(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(ranking score, probability that the sentence answers) of each row of `X`."""
        if not len(X):
            return np.zeros(0), np.zeros(0)
        s = self.ranker.predict(X, num_threads=1)
        p = self.answers.predict(answer_inputs(X, s, s - s.max()), num_threads=1)
        return s, p

    def read(self, question: str, texts: list[str], s: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The ranker's best `read_top` (rows of `s`, `p` in any order, `texts` their `pair_text`s)
        read by the cross-encoder: their order (the ranker's score plus `beta` times the
        reader's) and the probability that each answers (a logistic model over both scores and
        the ranker's probability, `combine_inputs`)."""
        c = self.reader.score(question, texts)
        z = combine_inputs(s, p, c) @ self.coef + self.intercept
        return s + self.beta * c, 1.0 / (1.0 + np.exp(-z))


def combine_inputs(s: np.ndarray, p: np.ndarray, c: np.ndarray) -> np.ndarray:
    """What the combiner reads for the ranker's best few: the ranker's score and its gap to the
    best, its probability (as a logit), the cross-encoder's score and its gap to the best."""
    s, p, c = (np.asarray(v, dtype=np.float64) for v in (s, p, c))
    lp = np.log(np.clip(p, 1e-6, 1 - 1e-6) / np.clip(1 - p, 1e-6, 1))
    return np.column_stack([s, s - s.max(), lp, c, c - c.max()])


_loaded: dict[str, Reranker | None] = {}


def default() -> Reranker | None:
    """The reranker `QA_RERANKER` names: the shipped one (unset), none ('off'), or a file."""
    path = chosen("QA_RERANKER", MODEL_PATH)
    if path is None:
        return None
    key = str(path)
    if key not in _loaded:
        try:
            _loaded[key] = Reranker(path)
        except OSError as e:  # LightGBM's native library needs libgomp1 (OpenMP)
            print(f"qa: the second stage is off ({e}); install libgomp1", file=sys.stderr)
            _loaded[key] = None
    return _loaded[key]


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _forget_pool() -> None:
    """In a forked child the pool's threads are gone: it makes its own on first use."""
    global _pool, _pool_lock
    _pool, _pool_lock = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


class QuestionSide:
    """What the second stage needs of the question alone, being computed on worker threads: the
    question without its names (`qa.topic_mask`), embedded by `encode`, and the question-side
    model's vector (`qa.question_encoder`), each on a thread of its own (ONNX Runtime lets go of
    the GIL, so they run beside the first stage and beside each other). Made before the question's
    own vector (`qa.answer`), so all three embeddings overlap; `search(..., ahead=)` takes it."""

    def __init__(self, question: str, index, encode):
        global _pool
        with _pool_lock:
            if _pool is None:
                _pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="qa-question-side")
            pool = _pool
        self.question, self._encode = question, encode
        self._rest = masked_question(question) if encode is not None else None
        self._masked = pool.submit(encode, [self._rest]) if self._rest is not None else None
        self._tuned = pool.submit(tuned_vector, question, index)

    def result(self):
        """(`encode` for `qa.rerank_features.features`, answering the masked question from what was
        computed and anything else by `encode`; the tuned question vector or None)."""
        vec = self._masked.result() if self._masked is not None else None
        encode, rest = self._encode, self._rest
        masked_encode = None if encode is None else \
            (lambda texts: vec if rest is not None and list(texts) == [rest] else encode(texts))
        return masked_encode, self._tuned.result()


def tuned_vector(question: str, index=None) -> np.ndarray | None:
    """The question from the question-side model (`qa.question_encoder`), or None when it is
    off or `index` holds another model's vectors than the bundled one it was tuned against."""
    from . import question_encoder
    if index is not None and not question_encoder.fits(index.model):
        return None
    encoder = question_encoder.default()
    return encoder.encode(question) if encoder is not None else None


def search(index, qvec: np.ndarray, question: str, k: int = 10, weights: dict | None = None,
           reranker: Reranker | None | str = "default", asked: str | None = None, encode=None,
           ahead: QuestionSide | None = None) -> list[Hit]:
    """The `k` best sentences for the question, best first: the first stage's order, its best
    `top` re-ordered by the second stage (each with `answers`, the probability it answers).
    `weights` (first-stage fusion weights, for baselines and tuning) turn the second stage off;
    `asked` is the reader's own question when `question` is its follow-up rewrite; `encode`
    embeds the question without its names for the second stage (`qa.topic_mask`); `ahead` is
    `QuestionSide(question, index, encode)` started earlier (else it is started here)."""
    if len(index) == 0:
        return []
    model = default() if reranker == "default" else reranker
    # what the second stage needs of the question alone (two short texts through two models, ~10 ms
    # on one core) is embedded on another thread while the first stage searches on this one
    if model is not None and weights is None and (ahead is None or ahead.question != question):
        ahead = QuestionSide(question, index, encode)
    rows, feats = candidates(index, qvec, question)
    fused = fuse(feats, weights)
    order = np.argsort(-fused, kind="stable")
    names = FIRST_STAGE

    def hit(o, score, p=-1.0):
        return Hit(int(rows[o]), float(score), *(float(feats[f][o]) for f in names), answers=float(p),
                   first=float(fused[o]))

    if model is None or weights is not None:
        return [hit(o, fused[o]) for o in order[:k]]
    head = order[:model.top]
    masked_encode, tuned = ahead.result()
    s, p = model.score(features(index, qvec, question, rows[head], {f: v[head] for f, v in feats.items()},
                                fused[head], asked, masked_encode, tuned))
    ranked = np.argsort(-s, kind="stable")
    if model.reader is not None and len(ranked):
        # the best few read with the question: they keep their place above the rest, in the
        # combined order, each with the combined probability
        few = ranked[:model.read_top]
        z, pz = model.read(question, [_pair_text(index, int(rows[head[i]])) for i in few], s[few], p[few])
        s, p = s.copy(), p.copy()
        s[few] = s[few].min() + 1.0 + z - z.min()
        p[few] = pz
        ranked = np.argsort(-s, kind="stable")
    # `score` is the ranker's (its order); `answers` the probability that the sentence answers
    out = [hit(head[i], s[i], p[i]) for i in ranked]
    floor = float(s.min()) if len(s) else 0.0
    out += [hit(o, floor - 1.0 - j, 0.0) for j, o in enumerate(order[model.top:k])]
    return out[:k]
