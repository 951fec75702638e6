"""Rank the sentences of an index for a question: dense + BM25, sentence + paragraph.

Candidates come from four lists — FAISS over sentence vectors, FAISS over
paragraph vectors (title + paragraph), BM25 over sentences and BM25 over
paragraphs — and every candidate is then scored on all four signals and
fused by score (a weighted sum; BM25 scaled by the best BM25 score of the
query). A sentence is judged with the paragraph and article around it, but it
is still the sentence that is returned.

What is left out: turning ranked sentences into quotes (`qa.quotes`) and
deciding whether the articles answer at all (`qa.answer`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .index import Index, tokenize

# Fusion weights; `python -m qa eval` and benchmarks/squad.py measure them.
WEIGHTS = {"dense": 0.45, "dense_para": 0.2, "lexical": 0.25, "lexical_para": 0.1}
CANDIDATES = 100


@dataclass(frozen=True)
class Hit:
    row: int  # sentence row in the index
    score: float
    dense: float  # cosine of question and sentence
    dense_para: float  # cosine of question and the sentence's titled paragraph
    lexical: float  # BM25 of the sentence / best sentence BM25 for this question
    lexical_para: float  # BM25 of the paragraph / best paragraph BM25
    coverage: float  # share of the question's (idf-weighted) terms found in the sentence


def _bm25_scores(bm, tokens: list[str]) -> np.ndarray | None:
    known = [t for t in tokens if t in bm.vocab_dict]
    if not known:
        return None
    return np.asarray(bm.get_scores(known), dtype=np.float32)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    if len(scores) <= n:
        return np.arange(len(scores))
    return np.argpartition(-scores, n)[:n]


def _idf(bm, tokens: list[str]) -> dict[str, float]:
    """Inverse document frequency of each known query token, from the BM25 matrix."""
    n = max(1, bm.scores["num_docs"])
    indptr = bm.scores["indptr"]
    out = {}
    for t in tokens:
        tid = bm.vocab_dict.get(t)
        if tid is not None and tid + 1 < len(indptr):
            df = int(indptr[tid + 1] - indptr[tid])
            out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
    return out


def search(index: Index, qvec: np.ndarray, question: str, k: int = 10,
           weights: dict[str, float] | None = None, candidates: int = CANDIDATES) -> list[Hit]:
    """The `k` best sentences for the question, best first."""
    n = len(index)
    if n == 0:
        return []
    w = {**WEIGHTS, **(weights or {})}
    q = np.ascontiguousarray(qvec, dtype=np.float32).reshape(1, -1)
    tokens = tokenize([question])[0]

    cands: set[int] = set()
    c = min(candidates, n)
    _, ids = index.faiss.search(q, c)
    cands.update(int(i) for i in ids[0] if i >= 0)
    cp = min(max(10, candidates // 5), len(index.para))
    _, pids = index.faiss_para.search(q, cp)
    top_paras = {int(i) for i in pids[0] if i >= 0}

    lex_s = _bm25_scores(index.bm25_sent, tokens)
    lex_p = _bm25_scores(index.bm25_para, tokens)
    if lex_s is not None:
        cands.update(int(i) for i in _top(lex_s, c))
    if lex_p is not None:
        top_paras.update(int(i) for i in _top(lex_p, cp))
    if top_paras:
        cands.update(int(i) for i in np.flatnonzero(np.isin(index.sent[:, 1], list(top_paras))))

    rows = np.fromiter(cands, dtype=np.int64)
    paras = index.sent[rows, 1]
    dense = index.sent_vecs[rows] @ q[0]
    dense_p = index.para_vecs[paras] @ q[0]
    lex = lex_s[rows] / max(float(lex_s.max()), 1e-9) if lex_s is not None else np.zeros(len(rows))
    lexp = lex_p[paras] / max(float(lex_p.max()), 1e-9) if lex_p is not None else np.zeros(len(rows))
    score = w["dense"] * dense + w["dense_para"] * dense_p + w["lexical"] * lex + w["lexical_para"] * lexp

    order = np.argsort(-score, kind="stable")[:k]
    idf = _idf(index.bm25_sent, tokens)
    total = sum(idf.values()) or 1.0
    hits = []
    for o in order:
        r = int(rows[o])
        sent_tokens = set(tokenize([index.sentence_text(r)])[0])
        cov = sum(v for t, v in idf.items() if t in sent_tokens) / total
        hits.append(Hit(r, float(score[o]), float(dense[o]), float(dense_p[o]), float(lex[o]),
                        float(lexp[o]), float(cov)))
    return hits
