"""From a question to an `Answer`: check it, resolve follow-ups, search, quote, abstain.

`answered` is false when the best sentence does not support an answer
well enough; the closest quotes are still returned so a reader can see what
the articles come nearest to saying. The threshold is a property of the
fused score and was calibrated on the seed question set
(`python -m qa eval tests/data/seed_questions.jsonl`).

What is left out: loading the index and the model (`qa.library`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import followup
from .quotes import Quote, make_quotes
from .search import search

MAX_QUESTION_CHARS = 1000
MAX_K = 50
# The articles "don't say" when the best sentence's fused score is below ANSWER_THRESHOLD,
# or when neither it nor its paragraph is near the question in meaning (cosine below
# MEANING_THRESHOLD: words alone, like "capital", do not make an answer). Both were
# calibrated on tests/data/seed_questions.jsonl (benchmarks of abstention: see README):
# the midpoints of the widest gaps that abstain on no answerable question.
ANSWER_THRESHOLD = 0.314
MEANING_THRESHOLD = 0.17


class QuestionError(ValueError):
    """A question that cannot be asked; the message says why, in one line."""


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    quotes: tuple[Quote, ...] = ()
    query: str = ""  # what was searched: the question, or its follow-up rewrite
    timings_ms: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return {"question": self.question, "answered": self.answered,
                "quotes": [q.to_dict() for q in self.quotes], "query": self.query}


def check_question(question, k: int) -> str:
    if not isinstance(question, str):
        raise QuestionError("the question must be text")
    q = " ".join(question.split())
    if not q:
        raise QuestionError("the question is empty")
    if len(q) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the question is too long ({len(q):,} characters; at most {MAX_QUESTION_CHARS:,})")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= MAX_K:
        raise QuestionError(f"k must be a whole number from 1 to {MAX_K}")
    return q


def check_history(history) -> list[str]:
    if history is None:
        return []
    if isinstance(history, str) or not all(isinstance(h, str) for h in history):
        raise QuestionError("history must be a list of earlier questions (strings), oldest first")
    return [" ".join(h.split())[:MAX_QUESTION_CHARS] for h in history if h.strip()]


def answer(index, embedder, question: str, k: int = 3, history=None,
           threshold: float = ANSWER_THRESHOLD, weights: dict | None = None) -> Answer:
    q = check_question(question, k)
    query = followup.rewrite(q, check_history(history))
    if len(index) == 0:
        return Answer(question=question, answered=False, query=query)
    qvec = embedder.encode([query])[0]
    hits = search(index, qvec, query, k=max(3 * k, 10), weights=weights)
    quotes = make_quotes(index, hits, query, k)
    answered = bool(hits) and hits[0].score >= threshold and \
        max(hits[0].dense, hits[0].dense_para) >= MEANING_THRESHOLD
    return Answer(question=question, answered=answered, quotes=tuple(quotes), query=query)
