"""What the second stage (`qa.rerank`) reads of each candidate sentence: `FEATURES`, `features`.

The first stage (`qa.search`) ranks sentences by how near they are to the question. On a
news archive the lead and every sentence that restates the question's topic (the same
company, person and event) are near it, while the sentence that answers often says "the
company" or "he" and holds what was asked for: the amount, the name, the reason. So each
candidate is described by what it holds beside its similarities:

- answer-bearing cues: the dates, numbers and names it holds that the question does not,
  a reason ("because", "after", "due to"), a quotation, and whether it holds the kind of
  answer asked for (a reason for "why", a number for "how many", a name for "who");
- the question's terms weighed by how rare they are *within the candidate's article*
  (names every sentence of the article shares say nothing; the question's verb or object
  picks the sentence), the terms it holds that the title does not, how much of the title
  it only restates, and what its previous sentence and the title supply ("the company");
- the similarity of question and sentence once the article's topic is taken out of both
  (each vector less its projection on the article's mean paragraph vector), and of the
  sentence with the question embedded again without its names (`qa.topic_mask`);
- where it stands: its rank in the first stage and in its article, its position, caption.

What is left out: the model that weighs them and its use (`qa.rerank`), training (`benchmarks/`).
"""

from __future__ import annotations

import re

import numpy as np

from .bm25 import tokenize
from .index import find
from .search import FEATURES as FIRST_STAGE, _NUMBER, _cues, _idf, _plain, query_tokens, question_type, terms_in
from .topic_mask import masked_question


# Features also given less their best among the candidates of the same article (the article
# is often right and the sentence wrong: which of its sentences is the question's?).
_RELATIVE = ("dense", "dense_topicless", "coverage", "own_cov", "art_cov", "novelty", "focus", "dense_masked",
             "masked_topicless")
FEATURES = FIRST_STAGE + (
    "fused", "fused_gap", "rank", "qkind", "q_terms",
    "new_dates", "new_numbers", "new_names", "reason", "quotation", "speech",
    "art_cov", "new_cov", "title_in_q", "title_restate", "ctx_cov", "pronoun_start", "definite_start",
    "position", "para_position", "caption", "chars", "art_gap", "art_rank", "art_cands", "dense_topicless",
    "followup", "own_cov", "novelty", "restate", "focus", "q_numbers", "dense_masked", "masked_topicless",
    "kind_match", "tuned_dense", "tuned_gap", "tuned_para",
) + tuple(f"{f}_vs_art" for f in _RELATIVE)

RERANK_TOP = 30  # the first stage's candidates the second stage (qa.rerank) re-orders
_QKINDS = {None: 0, "date": 1, "number": 2, "name": 3, "reason": 4, "say": 5, "how": 6}
_Q_REASON = re.compile(r"^\s*(?:and\s+)?why\b|\bwhat (?:caused|led to|prompted|was behind|is behind|"
                       r"was the reason|is the reason|are the reasons|were the reasons)\b|\bfor what reason\b", re.I)
_Q_SAY = re.compile(r"\b(?:say|said|says|tell|told|think|thinks|thought|claim|claimed|warn|warned|"
                    r"argue|argued|describe|described|call|called)\b", re.I)
_Q_HOW = re.compile(r"^\s*(?:and\s+)?how (?:did|does|do|will|would|could|can|is|was|are|were)\b", re.I)
_REASON = re.compile(r"\b(?:because|due to|as a result|after|amid|following|blamed|since|so that|in order to|"
                     r"reasons?|caused?|led to|thanks to|owing to|driven by|partly|mainly|largely)\b", re.I)
_QUOTATION = re.compile(r"[\"“”]")
_DIGITS = re.compile(r"\b\d[\d,.]*\b")
_PRONOUN_START = re.compile(r"^[\"“‘']?(?:He|She|It|They|Its|His|Her|Their|This|That|These|Those|"
                            r"There|We|I)\b")
# The thing a "which/what" question names as its answer: "Which investment bank ...",
# "What was the score ...", "How many copies ..." (skipping verbs and articles before it).
_FOCUS = re.compile(r"\b(?:which|what|whose|how many|how much)\s+((?:[\w'’-]+\s+){0,4})", re.I)
_FOCUS_SKIP = frozenset("is are was were did does do has have had will would could can the a an his her its "
                        "their this that these those of".split())
_FOCUS_STOP = frozenset("is are was were did does do has have had will would could can to for in on at by "
                        "with from of that who which when where why how".split())
_DEFINITE_START = re.compile(r"^[\"“‘']?The (?:[a-z][\w'-]*)(?: [a-z][\w'-]*)?\b")


def question_kind(question: str) -> str | None:
    """The kind of answer asked for: 'date', 'number', 'name', 'reason', 'say', 'how' or None."""
    return question_type(question) or next(
        (kind for kind, p in (("reason", _Q_REASON), ("how", _Q_HOW), ("say", _Q_SAY)) if p.search(question)), None)


def focus_terms(question: str) -> list[str]:
    """The index's tokens of what a which/what/how-many question names as the thing it wants."""
    m = _FOCUS.search(question)
    if not m:
        return []
    words = m.group(1).lower().split()
    while words and words[0] in _FOCUS_SKIP:
        words = words[1:]
    kept = []
    for w in words:
        if w in _FOCUS_STOP or len(kept) == 2:
            break
        kept.append(w)
    return tokenize([" ".join(kept)])[0]


def _title_tokens(index, a: int) -> set[str]:
    """The index's tokens of article `a`'s title, memoised on the index."""
    memo = index.__dict__.setdefault("_title_tokens", {})
    if a not in memo:
        memo[a] = set(tokenize([index.article(a).title])[0])
    return memo[a]


def _held_share(held: np.ndarray, w: np.ndarray) -> np.ndarray:
    total = float(w.sum())
    return (held @ w / total).astype(np.float32) if total > 0 else np.zeros(len(held), np.float32)


def features(index, qvec: np.ndarray, question: str, rows: np.ndarray, feats: dict[str, np.ndarray],
             fused: np.ndarray, asked: str | None = None, encode=None, tuned: np.ndarray | None = None) -> np.ndarray:
    """float32 [len(rows), len(FEATURES)]: every candidate described for the second stage.

    `question` is what was searched; `asked`, when it differs, the reader's own follow-up
    ("How much did it pay?") whose words were joined to an earlier question's. `encode`
    (texts -> unit vectors, uncached) embeds the question without its names (`qa.topic_mask`);
    without it the masked similarities are the plain ones. `tuned` is the question's vector from
    the question-side model (`qa.question_encoder`); without it the plain one stands in."""
    n = len(rows)
    rows = np.asarray(rows, dtype=np.int64)
    out = np.zeros((n, len(FEATURES)), dtype=np.float32)
    col = {f: j for j, f in enumerate(FEATURES)}
    for f in FIRST_STAGE:
        out[:, col[f]] = feats[f]
    out[:, col["fused"]] = fused
    out[:, col["fused_gap"]] = fused - fused.max() if n else 0.0
    out[:, col["rank"]] = np.argsort(np.argsort(-fused, kind="stable"), kind="stable")
    kind = question_kind(question)
    out[:, col["qkind"]] = _QKINDS[kind]
    tokens = list(dict.fromkeys(query_tokens(question)))
    out[:, col["q_terms"]] = len(tokens)
    texts = [index.sentence_text(int(r)) for r in rows]
    sent_tokens = [set(t) for t in tokenize(texts)]
    qset = set(tokens)

    # What the sentence holds that the question does not.
    said = set(re.findall(r"[\w'’-]+", question.lower())) | set(_NUMBER.findall(question.lower()))
    # whether it holds a date or number the question does not (how many more says nothing:
    # "town 1 handled 4 million" is not a worse answer to "town 1" for holding its "1"); names counted
    for f, k, cap in (("new_dates", "date", 1), ("new_numbers", "number", 1), ("new_names", "name", 3)):
        out[:, col[f]] = [min(cap, len(c - said)) for c in _cues(index, rows, k)]
    out[:, col["reason"]] = [bool(_REASON.search(t)) for t in texts]
    out[:, col["quotation"]] = [bool(_QUOTATION.search(t)) for t in texts]
    if index.who is not None:  # who said it, from the stored codes (no per-row lookups)
        spoken = [c for c, name in enumerate(index.who_names) if name in ("quote", "paraphrase")]
        out[:, col["speech"]] = np.isin(index.who[rows, 0], spoken)
    else:
        out[:, col["speech"]] = [index.sentence_who(int(r))[0] in ("quote", "paraphrase") for r in rows]
    # whether it holds the kind of thing asked for (a reason for "why", a number for "how many")
    held_kind = {"reason": "reason", "number": "new_numbers", "date": "new_dates", "name": "new_names"}.get(kind)
    if held_kind:
        out[:, col["kind_match"]] = out[:, col[held_kind]] > 0
    elif kind == "say":
        out[:, col["kind_match"]] = np.maximum(out[:, col["quotation"]], out[:, col["speech"]])
    out[:, col["pronoun_start"]] = [bool(_PRONOUN_START.match(t)) for t in texts]
    out[:, col["definite_start"]] = [bool(_DEFINITE_START.match(t)) for t in texts]
    out[:, col["chars"]] = [len(t) / 100.0 for t in texts]
    # the question's own numbers ("town 1", "in 2004"): BM25 drops one-digit tokens, so say it here
    q_numbers = set(_DIGITS.findall(question))
    if q_numbers:
        out[:, col["q_numbers"]] = [len(q_numbers & set(_DIGITS.findall(t))) / len(q_numbers) for t in texts]
    focus = set(focus_terms(asked or question))
    if focus:
        out[:, col["focus"]] = [len(focus & st) / len(focus) for st in sent_tokens]

    # Where it stands in its article, and the article among the candidates.
    arts = index.sent[rows, 0].astype(np.int64)
    paras = index.sent[rows, 1].astype(np.int64)
    uarts, art_of = np.unique(arts, return_inverse=True)  # the candidates' articles, and each one's
    ulist = uarts.tolist()
    firsts = np.array([index.first_row(a) for a in ulist], dtype=np.int64)
    out[:, col["position"]] = np.minimum(30, rows - firsts[art_of])
    k_para = index.para[paras, 1].astype(np.int64)
    out[:, col["para_position"]] = np.minimum(30, k_para)
    out[:, col["caption"]] = [index.article(int(a)).is_caption(int(k)) for a, k in zip(arts, k_para)]
    if n:
        out[:, col["art_gap"]] = _best_in_article(fused, art_of, len(ulist))[art_of] - fused.max()
    counts = np.bincount(art_of, minlength=len(ulist))
    order = np.lexsort((-fused, arts))  # by article, best first within it
    group_start = np.cumsum(counts) - counts
    out[order, col["art_rank"]] = np.arange(n) - group_start[art_of[order]]
    out[:, col["art_cands"]] = counts[art_of]

    # The question's terms within each candidate's article.
    if tokens:
        bm = index.bm25_sent
        idf = _idf(bm, tokens, unknown=True)
        terms = list(idf)
        w_glob = np.fromiter(idf.values(), dtype=np.float32, count=len(idf))
        held = terms_in(bm, terms, rows)
        prev_rows = np.maximum(rows - 1, 0)
        held_prev = terms_in(bm, terms, prev_rows) & (index.sent[prev_rows, 0] == arts)[:, None]
        # how many sentences of each candidate article hold each term: one postings lookup
        bounds = [(int(lo), index.first_row(a + 1) if a + 1 < len(index.entries) else len(index))
                  for a, lo in zip(ulist, firsts)]
        every = np.concatenate([np.arange(lo, hi) for lo, hi in bounds])
        starts = np.cumsum([0] + [hi - lo for lo, hi in bounds[:-1]])
        dfs = np.add.reduceat(terms_in(bm, terms, every).astype(np.int32), starts, axis=0)
        for a, (lo, hi), df in zip(ulist, bounds, dfs):
            m = arts == a
            w_art = w_glob * np.log1p((hi - lo) / (df + 0.5)).astype(np.float32)
            title = _title_tokens(index, a)
            for i in np.flatnonzero(m).tolist():  # what the sentence says beyond the question and title
                st = sent_tokens[i]
                out[i, col["novelty"]] = len(st - qset - title) / max(1, len(st))
                out[i, col["restate"]] = len(st & qset) / max(1, len(st))
            in_title = np.array([t in title for t in terms])
            out[m, col["art_cov"]] = _held_share(held[m], w_art)
            out[m, col["new_cov"]] = _held_share(held[m][:, ~in_title], w_glob[~in_title]) if (~in_title).any() else 0.0
            out[m, col["title_in_q"]] = float(w_glob[in_title].sum() / max(1e-9, w_glob.sum()))
            out[m, col["ctx_cov"]] = _held_share(held[m] | held_prev[m] | in_title[None, :], w_glob)
            if title:
                out[m, col["title_restate"]] = [len(title & sent_tokens[i]) / len(title) for i in np.flatnonzero(m)]

    # A follow-up searched with an earlier question: the reader's new words matter most.
    own = list(dict.fromkeys(query_tokens(asked))) if asked and asked != question else tokens
    out[:, col["followup"]] = own is not tokens
    if own:
        idf = _idf(index.bm25_sent, own, unknown=True)
        out[:, col["own_cov"]] = _held_share(terms_in(index.bm25_sent, list(idf), rows),
                                             np.fromiter(idf.values(), dtype=np.float32, count=len(idf)))

    # Question and sentence with the article's topic taken out of both.
    q = np.asarray(qvec, dtype=np.float32).ravel()
    svecs = np.asarray(_plain(index.sent_vecs)[rows], dtype=np.float32)
    pcol = index.column(0, "para")
    p_first, p_last = find(pcol, uarts, side="left"), find(pcol, uarts, side="right")
    topic = np.zeros((len(ulist), len(q)), np.float32)
    # every candidate article's paragraph vectors in one read (a shard set reads them from its shards)
    all_paras = np.asarray(_plain(index.para_vecs)[np.concatenate(
        [np.arange(lo, hi) for lo, hi in zip(p_first.tolist(), p_last.tolist())] or [np.zeros(0, np.int64)])],
        dtype=np.float32)
    at = 0
    for j, (lo, hi) in enumerate(zip(p_first.tolist(), p_last.tolist())):
        t = all_paras[at:at + hi - lo].mean(axis=0)
        at += hi - lo
        topic[j] = t / max(float(np.linalg.norm(t)), 1e-9)
    T = topic[art_of]
    sr = svecs - np.sum(svecs * T, axis=1)[:, None] * T
    out[:, col["dense_topicless"]] = _topicless_cosine(q, T, sr)
    # The question without the names of its topic, against the sentence and its topic-less form.
    rest = masked_question(question) if encode is not None else None
    if rest is not None:
        qm = np.asarray(encode([rest])[0], dtype=np.float32)
        out[:, col["dense_masked"]] = svecs @ qm
        out[:, col["masked_topicless"]] = _topicless_cosine(qm, T, sr)
    else:
        out[:, col["dense_masked"]] = feats["dense"]
        out[:, col["masked_topicless"]] = out[:, col["dense_topicless"]]
    # The question embedded by the model tuned on the question side, against the sentence and
    # its titled paragraph (the plain vector where there is none, or it does not fit the index).
    tq = np.asarray(tuned if tuned is not None and len(tuned) == svecs.shape[1] else qvec, dtype=np.float32)
    out[:, col["tuned_dense"]] = svecs @ tq
    # less the best of the first stage's best RERANK_TOP (what the ranker reads when serving, even
    # where training describes more candidates)
    head = out[:, col["rank"]] < RERANK_TOP
    out[:, col["tuned_gap"]] = out[:, col["tuned_dense"]] - out[head, col["tuned_dense"]].max() if n else 0.0
    out[:, col["tuned_para"]] = np.asarray(_plain(index.para_vecs)[index.sent[rows, 1]], dtype=np.float32) @ tq
    for f in _RELATIVE:
        v = out[:, col[f]]
        out[:, col[f"{f}_vs_art"]] = v - _best_in_article(v, art_of, len(ulist))[art_of]
    return out


def _topicless_cosine(q: np.ndarray, T: np.ndarray, sr: np.ndarray) -> np.ndarray:
    """Cosine of the question vector `q` less each candidate's topic direction (rows of `T`)
    with the candidates' vectors already less theirs (`sr`)."""
    qr = q[None, :] - (T @ q)[:, None] * T
    return np.sum(qr * sr, axis=1) / np.maximum(np.linalg.norm(qr, axis=1) * np.linalg.norm(sr, axis=1), 1e-9)


def _best_in_article(v: np.ndarray, art_of: np.ndarray, n_articles: int) -> np.ndarray:
    """The highest of `v` among each article's candidates (`art_of`: each candidate's article)."""
    best = np.full(n_articles, -np.inf, dtype=v.dtype)
    np.maximum.at(best, art_of, v)
    return best
