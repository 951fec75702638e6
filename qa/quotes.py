"""Turn ranked sentences into quotes: the smallest verbatim span that supports the answer.

A quote is one sentence; it grows to a neighbouring sentence of the same
paragraph (three at most) only when one is not enough: the sentence is a
fragment, or it leaves most of the question's terms to a neighbour that has
them, or the sentence ranked after it is its neighbour and, by the second stage's
probability, likely to answer as well (`JOIN_PROBABILITY`): a topic sentence and the
one after it that holds the answer ("These include the Miller–Rabin test") make one
quote. No sentence is quoted twice. Each quote keeps its paragraph as context
and its character offsets in the article's text.

What is left out: ranking (`qa.search`) and abstention (`qa.answer`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from .articles import Article
from .index import Index
from .search import Hit, _idf, query_tokens, terms_in

MAX_SENTENCES = 3
FRAGMENT_CHARS = 40
# The sentence the second stage ranks second joins the first quote when it is the next or previous
# sentence of the same paragraph and its own probability of answering is at least this: "Algorithms
# … have been devised to test the primality of large numbers. These include the Miller–Rabin test".
# Chosen on the fit parts (SQuAD's first half, the BBC and seed fit questions) as the lowest of
# 0.1-0.3 whose quotes there stay within 1.3 times the mean sentence (SQuAD: 159 chars): first quote
# right on the SQuAD fit half 0.872 -> 0.877; measured after (python benchmarks/squad.py): whole corpus
# P@1 0.826 -> 0.834, held-out half 0.779 -> 0.790, mean quote 196 -> 201 chars.
JOIN_PROBABILITY = 0.3


@dataclass(frozen=True)
class Quote:
    text: str
    score: float
    context: str  # the paragraph the quote stands in
    article: Article
    start: int  # offsets of `text` in article.text
    end: int
    context_start: int  # offset of `context` in article.text
    # Who said it and when (`qa.sourcing`), and the other articles that say the same.
    kind: str = "narration"  # "quote" | "paraphrase" | "narration" | "caption" (a photo caption)
    speaker: str | None = None
    speaker_title: str | None = None
    dates: tuple[dict, ...] = ()  # relative dates in the text: {"phrase", "date"}
    also_in: tuple[Article, ...] = field(default=())
    rows: tuple[int, ...] = field(default=(), compare=False, repr=False)  # sentence rows in the index
    # the second stage's probability that the quote answers the question (None: not judged)
    answers: float | None = None

    def to_dict(self) -> dict:
        return {"text": self.text, "score": round(self.score, 4), "context": self.context,
                "article": self.article.to_dict(), "start": self.start, "end": self.end,
                "context_start": self.context_start, "kind": self.kind, "speaker": self.speaker,
                "speaker_title": self.speaker_title, "dates": [dict(d) for d in self.dates],
                "sources": 1 + len(self.also_in), "also_in": [a.to_dict() for a in self.also_in],
                "answers": None if self.answers is None else round(self.answers, 4)}


def span(index: Index, row: int, idf: dict[str, float], used: set[int],
         held: dict[int, np.ndarray] | None = None) -> list[int]:
    """Sentence rows of the quote around `row`. `held` may already give, for the sentences
    around it, which of the question's terms (`idf`'s keys, in order) each one holds."""
    para = index.sent[row, 1]
    rows = [row]
    weights = np.fromiter(idf.values(), dtype=np.float64, count=len(idf))
    total = float(weights.sum())
    held = {} if held is None else held

    def neighbours():
        lo, hi = rows[0] - 1, rows[-1] + 1
        return [r for r in (hi, lo) if 0 <= r < len(index) and index.sent[r, 1] == para and r not in used]

    def coverage(extra: int | None = None) -> float:
        if not total:
            return 0.0
        look = rows + ([extra] if extra is not None else [])
        if any(r not in held for r in look):
            held.update(_terms_near(index, idf, [row]))
        mask = np.logical_or.reduce([held[r] for r in look])
        return float(weights[mask].sum()) / total

    while len(rows) < MAX_SENTENCES:
        options = neighbours()
        if not options:
            break
        if int(index.sent[rows[-1], 3] - index.sent[rows[0], 2]) < FRAGMENT_CHARS:
            pick = options[0]
        else:
            cov = coverage()
            if cov >= 0.5:
                break
            gain, pick = max((coverage(r) - cov, r) for r in options)
            if gain < 0.25:
                break
        rows.append(pick)
        rows.sort()
    return rows


def _joined(index: Index, rows: list[int], after: Hit, used: set[int]) -> list[int]:
    """`rows` and the sentence ranked just after them, when it is their neighbour in the paragraph
    and the second stage finds it likely to answer too (`JOIN_PROBABILITY`): one quote of both."""
    r = after.row
    if after.answers < JOIN_PROBABILITY or len(rows) >= MAX_SENTENCES or r in used or r in rows \
            or r not in (rows[0] - 1, rows[-1] + 1) or index.sent[r, 1] != index.sent[rows[0], 1]:
        return rows
    return sorted(rows + [r])


def _terms_near(index: Index, idf: dict[str, float], rows: list[int]) -> dict[int, np.ndarray]:
    """Which question terms each sentence a quote around `rows` can reach holds (one lookup)."""
    near = np.unique(np.concatenate([np.arange(r - MAX_SENTENCES + 1, r + MAX_SENTENCES) for r in rows]))
    near = near[(near >= 0) & (near < len(index))]
    return dict(zip(near.tolist(), terms_in(index.bm25_sent, list(idf), near)))


def iter_quotes(index: Index, hits: list[Hit], question: str, first: int = 3) -> Iterator[Quote]:
    """Quotes of `hits` in order, one at a time (a caller that merges near-identical ones asks
    for more only when it has to); the terms of the sentences around the `first` hits are
    looked up at once."""
    idf = _idf(index.bm25_sent, query_tokens(question))
    used: set[int] = set()
    held = _terms_near(index, idf, [h.row for h in hits[:first]]) if idf and hits else {}
    for i, h in enumerate(hits):
        if h.row in used:
            continue
        rows = span(index, h.row, idf, used, held)
        if i + 1 < len(hits):
            rows = _joined(index, rows, hits[i + 1], used)
        used.update(rows)
        a_row, p_row = int(index.sent[rows[0], 0]), int(index.sent[rows[0], 1])
        article = index.article(a_row)
        start, end = int(index.sent[rows[0], 2]), int(index.sent[rows[-1], 3])
        k_para = int(index.para[p_row, 1])
        context, base = article.units[k_para], article.paragraph_start(k_para)
        yield Quote(text=context[start - base:end - base], score=h.score, context=context, article=article,
                    start=start, end=end, context_start=base, rows=tuple(rows),
                    answers=h.answers if h.answers >= 0 else None)

