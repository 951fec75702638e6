"""Rank the sentences of an index for a question: dense + BM25, sentence + paragraph, plus cues.

Candidates come from three lists — FAISS over sentence vectors, BM25 over
sentences and the sentences of the paragraphs BM25 ranks best — and every
candidate is then scored on every signal and fused by score (a weighted sum;
BM25 scaled by the best BM25 score of the question). A fourth list, FAISS over
paragraph vectors, found nothing the three miss (SQuAD and seed figures the
same to the last digit without it) and cost a whole second vector search a
question, so paragraph vectors are a feature of every candidate, not a source.
Beside the four similarities, three cheap cues judge a sentence as an answer:
how much of the question's (idf-weighted) terms it holds, how close its
neighbours in the paragraph are to the question (the sentence that answers
often follows the one that restates the question), and whether it holds the
kind of thing the question asks for (a date for "when", a number for "how
many", a name for "who") that the question does not already contain. A
sentence is judged with the paragraph and article around it, but it is still
the sentence that is returned.

Question words ("how many", "what did … say") are not terms: they would match
any sentence that says "many". A question term the articles never use still
counts in the coverage total, so "the capital of Australia" is not half
covered by a sentence that says "capital".

The weights were fitted on the first half of the SQuAD public questions and
half of the seed questions (benchmarks/squad.py, benchmarks/tune.py).

What is left out: turning ranked sentences into quotes (`qa.quotes`) and
deciding whether the articles answer at all (`qa.answer`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .hubness import REFRESH_MAX, hubness
from .bm25 import tokenize
from .index import Index, find
from .vectors import kind_of, serving_thread

# Fusion weights; `python -m qa eval` and benchmarks/squad.py measure them.
# Fitted by coordinate ascent (benchmarks/tune.py) on a joint objective: P@1 + MRR@10 on
# the first half of the SQuAD public questions plus hit@1 + hit@3 + MRR on half A of the
# seed questions (even ids), then scaled to sum to 1. SQuAD questions share words with
# their paragraph; news readers paraphrase, so the seeds pull weight from term coverage
# to the dense views. BM25 of the sentence itself drops out: coverage carries it better.
# `distinct` (1 - hubness, `qa.hubness`) takes weight from the dense views: a sentence near
# every question about its topic is worth less than its cosine says.
WEIGHTS = {"dense": 0.128, "dense_para": 0.223, "lexical": 0.0, "lexical_para": 0.002,
           "coverage": 0.24, "neighbour": 0.0, "cue": 0.067, "dense_ctx": 0.131, "distinct": 0.209}
FEATURES = tuple(WEIGHTS)
# Candidates per list. An exact index's top 50 is the true top 50, and P@1 / MRR@10 on SQuAD
# are the same with 20, 30, 50 or 100 a list (benchmarks/squad.py). An approximate index
# (HNSW, IVF) is asked for CANDIDATES sentences, all re-scored exactly from the stored vectors:
# that is what holds 0.99 of the exact top 10 at 1M (benchmarks/bench.py, recall_at_10).
CANDIDATES = 100
EXACT_CANDIDATES = 50


@dataclass(frozen=True)
class Hit:
    row: int  # sentence row in the index
    score: float
    dense: float  # cosine of question and sentence
    dense_para: float  # cosine of question and the sentence's titled paragraph
    lexical: float  # BM25 of the sentence / best sentence BM25 for this question
    lexical_para: float  # BM25 of the paragraph / best paragraph BM25
    coverage: float  # share of the question's (idf-weighted) terms found in the sentence
    neighbour: float = 0.0  # best cosine of the question and an adjacent sentence of the paragraph
    cue: float = 0.0  # 1 when the sentence holds the kind of answer the question asks for
    dense_ctx: float = 0.0  # cosine of the question and the sentence averaged with its neighbours
    distinct: float = 0.0  # 1 - the sentence's hubness: how unlike its nearest sentences it is (qa.hubness)
    answers: float = -1.0  # the second stage's probability that it answers (qa.rerank); -1: not judged
    first: float = float("nan")  # its first-stage (fused) score when `score` is the second stage's


# ------------------------------------------------------------- answer cues

_MONTHS = r"January|February|March|April|May|June|July|August|September|October|November|December"
_DATE = re.compile(rf"\b(?:1\d{{3}}|20\d\d)s?\b|\b(?:{_MONTHS})\b|\bcentur(?:y|ies)\b|\b\d+(?:st|nd|rd|th)\b"
                   r"|\b(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday)\b|\bB\.?C\b|\bAD\b")
_NUMBER = re.compile(r"\b\d[\d,.]*\b|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"twenty|thirty|forty|fifty|hundreds?|thousands?|millions?|billions?|dozens?|half|"
                     r"percent|per cent)\b|%", re.I)
_CAP = re.compile(r"(?<![.!?\"“] )(?<!^)\b[A-Z][\w'’-]+")
_Q_DATE = re.compile(r"^\s*(?:when\b|what (?:year|date|day|month|century|decade|time)\b|in what (?:year|century|decade)\b|"
                     r"in which (?:year|century|decade)\b|which (?:year|century|decade)\b)|\b(?:what|which) year\b", re.I)
_Q_NUMBER = re.compile(r"\bhow (?:many|much|long|far|old|big|large|tall|high|often|fast)\b|"
                       r"\bwhat (?:percentage|percent|number|amount|proportion|size|population)\b", re.I)
_Q_NAME = re.compile(r"^\s*(?:who|whom|whose|where)\b|\b(?:who|whom|whose|where) (?:\w+ ){0,2}\w+\??$", re.I)


def question_type(question: str) -> str | None:
    """'date', 'number', 'name' or None: the kind of answer a question asks for."""
    if _Q_DATE.search(question):
        return "date"
    if _Q_NUMBER.search(question):
        return "number"
    if _Q_NAME.search(question):
        return "name"
    return None


_CUE_PATTERNS = {"date": _DATE, "number": _NUMBER, "name": _CAP}
_CUE_CACHE_MAX = 200_000


def _cues(index: Index, rows, kind: str) -> list[frozenset]:
    """The dates, numbers or capitalised words (`kind`) of the sentences at `rows`, lower-cased;
    memoised per index, for candidate rows only (millions of sentences never all need them)."""
    cache = getattr(index, "_cue_memo", None)
    if cache is None or len(cache) > _CUE_CACHE_MAX:
        cache = index._cue_memo = {}
    pattern = _CUE_PATTERNS[kind]
    out = []
    for r in rows:
        key = (int(r), kind)
        got = cache.get(key)
        if got is None:
            got = cache[key] = frozenset(m.lower() for m in pattern.findall(index.sentence_text(key[0])))
        out.append(got)
    return out


def _cue_scores(index: Index, rows: np.ndarray, question: str) -> np.ndarray:
    kind = question_type(question)
    if kind is None:
        return np.zeros(len(rows), dtype=np.float32)
    asked = set(re.findall(r"[\w'’-]+", question.lower())) | set(_NUMBER.findall(question.lower()))
    return np.fromiter((1.0 if c - asked else 0.0 for c in _cues(index, rows, kind)),
                       dtype=np.float32, count=len(rows))


# ------------------------------------------------------------------ query terms

# Words that shape a question but are not its subject. The index's tokenizer keeps them
# (its stop list is short), so a question's "how many" would otherwise match any sentence
# that says "many". Dropped from the question only; month names like "May" are kept.
_QUESTION_STOP = frozenset("""
what which who whom whose when where why how many much does did do done doing is are was were be been
being has have had having can could would should shall will might must according say says said saying
tell told tells think thinks thought mean means ever also about there their them they it its this that
these those any some other else than then just only very more most such own same into onto from with
without for of to in on at by as or and but if so not no nor yes one ones anyone anything someone something
kind sort type way happen happened happens
""".split())
_query_stop_stems: frozenset | None = None


def query_tokens(question: str) -> list[str]:
    """The question's BM25 terms: the index's tokens without question and function words."""
    global _query_stop_stems
    if _query_stop_stems is None:
        _query_stop_stems = frozenset(t for ts in tokenize(sorted(_QUESTION_STOP)) for t in ts)
    return [t for t in tokenize([question])[0] if t not in _query_stop_stems]


# ------------------------------------------------------------------ search

def _postings(bm) -> tuple[np.ndarray, np.ndarray]:
    """(indptr, indices) of a BM25 index's term-by-document matrix as plain arrays: memory-mapped
    ones pay the np.memmap subclass on every slice, dozens of times a question."""
    got = getattr(bm, "_qa_postings", None)
    if got is None or got[2] is not bm.scores["indices"]:
        got = (np.asarray(bm.scores["indptr"]), np.asarray(bm.scores["indices"]), bm.scores["indices"])
        bm._qa_postings = got
    return got[0], got[1]


def _plain(vecs):
    """A memory-mapped matrix as a plain array over the same pages (no copy, no np.memmap
    bookkeeping on every read); anything else as it is."""
    return vecs.view(np.ndarray) if isinstance(vecs, np.memmap) else vecs


def _posting_list(bm, term: str) -> np.ndarray:
    """The rows of the documents that hold `term` (none when the index never saw it)."""
    if hasattr(bm, "posting_list"):  # a shard set's BM25 (`qa.shards`): each shard's, by global row
        return bm.posting_list(term)
    indptr, indices = _postings(bm)
    tid = bm.vocab_dict.get(term)
    if tid is None or tid + 1 >= len(indptr):
        return indices[:0]
    return indices[indptr[tid]:indptr[tid + 1]]


def _bm25_scores(bm, tokens: list[str]) -> np.ndarray | None:
    known = [t for t in tokens if t in bm.vocab_dict]
    if not known:
        return None
    return np.asarray(bm.get_scores(known), dtype=np.float32)


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Rows of the `n` best BM25 scores, among those that match at all (a partition of the
    few matching rows, not of millions)."""
    hit = np.flatnonzero(scores)
    if len(hit) <= n:
        return hit
    return hit[np.argpartition(-scores[hit], n)[:n]]


def _idf(bm, tokens: list[str], unknown: bool = False) -> dict[str, float]:
    """Inverse document frequency of each known query token, from the BM25 matrix.

    With `unknown`, a token no sentence holds gets the idf of a term found nowhere: a
    question about "Australia" over articles that never name it is not half answered
    by a sentence that says "capital".
    """
    n = max(1, bm.scores["num_docs"])
    if hasattr(bm, "prefetch"):
        bm.prefetch(tokens)
    out = {}
    for t in tokens:
        df = len(_posting_list(bm, t))
        if df or unknown:
            out[t] = float(np.log(1 + (n - df + 0.5) / (df + 0.5)))
    return out


def _postings_sorted(bm) -> bool:
    """Whether every term's postings are in document order (bm25s writes them so); checked once."""
    flag = getattr(bm, "_qa_sorted", None)
    if flag is None:
        ptr, ind = _postings(bm)
        step = np.diff(ind.astype(np.int64)) > 0
        starts = ptr[1:-1][(ptr[1:-1] > 0) & (ptr[1:-1] < len(ind))] - 1  # column boundaries may drop
        step[starts] = True
        flag = bool(step.all()) if len(step) else True
        bm._qa_sorted = flag
    return flag


def terms_in(bm, terms: list[str], rows: np.ndarray) -> np.ndarray:
    """bool [len(rows), len(terms)]: whether each sentence row holds each term, from the postings
    (no sentence is tokenized again)."""
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((len(rows), len(terms)), dtype=bool)
    if hasattr(bm, "prefetch"):  # a shard set: every term's postings from each shard in one call
        bm.prefetch(terms)
    sorted_ = _postings_sorted(bm)
    for j, t in enumerate(terms):
        post = _posting_list(bm, t)
        if not len(post):
            continue
        if sorted_:  # binary search of the rows in the postings
            at = np.minimum(np.searchsorted(post, rows), len(post) - 1)
            out[:, j] = post[at] == rows
        else:
            out[:, j] = np.isin(rows, post)
    return out


def sentences_with(index: Index, word: str) -> np.ndarray:
    """Rows of the sentences that hold `word` (as the index tokenizes it), from the postings."""
    toks = tokenize([word])[0]
    if len(toks) != 1:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(_posting_list(index.bm25_sent, toks[0]), dtype=np.int64)


def _coverage(bm, tokens: list[str], rows: np.ndarray) -> np.ndarray:
    """Idf-weighted share of the question's terms in each sentence of `rows`, from the postings.

    Terms the index has never seen count in the total, so they lower every sentence's share.
    """
    idf = _idf(bm, list(dict.fromkeys(tokens)), unknown=True)
    total = sum(idf.values())
    if not total:
        return np.zeros(len(rows), dtype=np.float32)
    w = np.fromiter(idf.values(), dtype=np.float32, count=len(idf)) / total
    return (terms_in(bm, list(idf), rows) @ w).astype(np.float32)


def sentence_hubness(index: Index) -> np.ndarray:
    """Every sentence's hubness (`qa.hubness`): stored with the index, or worked out once for an
    index small enough to do it in a moment (else all equal: the feature then ranks nothing)."""
    hub = getattr(index, "sent_hub", None)
    if hub is None or len(hub) != len(index):
        hub = hubness(index.faiss, index.sent_vecs) if len(index) <= REFRESH_MAX \
            else np.zeros(len(index), dtype=np.float32)
        index.sent_hub = hub
    return hub


def _sentences_of(index: Index, paras: np.ndarray) -> np.ndarray:
    """Sentence rows of paragraph rows (sentences are stored in paragraph order)."""
    if not len(paras):
        return np.zeros(0, dtype=np.int64)
    lo, hi = find(index.column(1), paras, side="left"), find(index.column(1), paras, side="right")
    return np.concatenate([np.arange(a, b) for a, b in zip(lo.tolist(), hi.tolist())])


def candidates(index: Index, qvec: np.ndarray, question: str,
               n_candidates: int | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Candidate sentence rows and every feature of each (the columns of `FEATURES`)."""
    serving_thread()
    n = len(index)
    q = np.ascontiguousarray(qvec, dtype=np.float32).reshape(1, -1)
    tokens = query_tokens(question)

    per_list = n_candidates or EXACT_CANDIDATES
    c = min(per_list, n)
    dense_c = min(n_candidates or (EXACT_CANDIDATES if kind_of(index.faiss) == "flat" else CANDIDATES), n)
    for bm in (index.bm25_sent, index.bm25_para):
        if hasattr(bm, "start_scores"):  # a shard set: BM25 scored on the shards while FAISS searches
            bm.start_scores([t for t in tokens if t in bm.vocab_dict])
    _, ids = index.faiss.search(q, dense_c)
    cp = min(max(10, per_list // 5), len(index.para))
    lex_s = _bm25_scores(index.bm25_sent, tokens)
    lex_p = _bm25_scores(index.bm25_para, tokens)
    sents = [ids[0]]
    if lex_s is not None:
        sents.append(_top(lex_s, c))
    if lex_p is not None:  # every sentence of the paragraphs BM25 ranks best
        top_paras = np.unique(_top(lex_p, cp).astype(np.int64))
        sents.append(_sentences_of(index, top_paras[top_paras >= 0]))
    rows = np.unique(np.concatenate(sents).astype(np.int64))
    rows = rows[rows >= 0]
    paras = index.sent[rows, 1]
    # The candidates' vectors and their neighbours' in one read (a memory-mapped matrix pays
    # per read, not per row); `at(r)` is where row r stands in that block.
    near = np.unique(np.concatenate([rows - 1, rows, rows + 1]).clip(0, n - 1))
    vecs = np.asarray(_plain(index.sent_vecs)[near], dtype=np.float32)
    sims = vecs @ q[0]

    def at(r):
        return np.searchsorted(near, r)

    own = at(rows)
    dense = sims[own]
    # Neighbours: the sentence before and after, when they stand in the same paragraph. The
    # sentence read with them (their vectors averaged in at half weight, no new embedding)
    # is a second dense view: a sentence often leans on the one before ("he said", "the group").
    nb = np.full(len(rows), -1.0, dtype=np.float32)
    ctx = 2.0 * vecs[own]
    for off in (-1, 1):
        r2 = rows + off
        ok = (r2 >= 0) & (r2 < n)
        ok[ok] &= index.sent[r2[ok], 1] == paras[ok]
        if ok.any():
            j = at(r2[ok])
            nb[ok] = np.maximum(nb[ok], sims[j])
            ctx[ok] += vecs[j]
    nb[nb < -0.5] = 0.0
    ctx_dense = (ctx @ q[0]) / np.maximum(np.linalg.norm(ctx, axis=1), 1e-9)
    feats = {
        "dense": dense,
        "dense_para": _plain(index.para_vecs)[paras] @ q[0],
        "lexical": lex_s[rows] / max(float(lex_s.max()), 1e-9) if lex_s is not None else np.zeros(len(rows)),
        "lexical_para": lex_p[paras] / max(float(lex_p.max()), 1e-9) if lex_p is not None else np.zeros(len(rows)),
        "coverage": _coverage(index.bm25_sent, tokens, rows),
        "neighbour": nb,
        "cue": _cue_scores(index, rows, question),
        "dense_ctx": ctx_dense,
        "distinct": 1.0 - sentence_hubness(index)[rows],
    }
    return rows, {k: np.asarray(v, dtype=np.float32) for k, v in feats.items()}


def fuse(feats: dict[str, np.ndarray], weights: dict[str, float] | None = None) -> np.ndarray:
    w = {**WEIGHTS, **(weights or {})}
    return sum(w[f] * feats[f] for f in FEATURES if w[f])


def search(index: Index, qvec: np.ndarray, question: str, k: int = 10,
           weights: dict[str, float] | None = None, candidates_per_list: int | None = None) -> list[Hit]:
    """The `k` best sentences for the question, best first."""
    if len(index) == 0:
        return []
    rows, feats = candidates(index, qvec, question, candidates_per_list)
    score = fuse(feats, weights)
    order = np.argsort(-score, kind="stable")[:k]
    return [Hit(int(rows[o]), float(score[o]), *(float(feats[f][o]) for f in FEATURES)) for o in order]
