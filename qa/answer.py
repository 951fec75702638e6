"""From a question to an `Answer`: check it, resolve follow-ups, search, quote, abstain.

Sentences are ranked by the first stage (`qa.search`) and re-ordered by the second
(`qa.rerank`), which also gives each the probability that it answers. `answered` is false
when the first sentence's probability is below the model's calibrated threshold, or its
first-stage relevance or meaning is too low (the thresholds below); the closest quotes are
still returned so a reader can see what the articles come nearest to saying. When it is
answered, a quote after the first is returned only when its probability clears the model's
second bar: `k` is a maximum, not a quota. A question that asks for a quantity is answered only
when its first quote holds one (`qa.answer_type`), and one that asks what somebody said not by
a photo caption, a sentence of an article that never names them, or the words of another
person it names. With the second stage off (`QA_RERANKER=off`, `rerank=False`, or fusion
`weights` given) the first stage's relevance alone decides.

Who said each quote and when comes from `qa.sourcing`: a question that asks
about a speaker ("What did Power say…?") puts that speaker's sentences first,
`speaker=`, `source=`, `since=` and `until=` filter, and near-identical quotes
from several articles become one quote with "N sources".

What is left out: loading the index and the model (`qa.library`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from . import followup, sourcing
from . import rerank as second_stage
from .answer_type import holds_what_was_asked
from .dedupe import NearDuplicates
from .quotes import Quote, iter_quotes
from .search import WEIGHTS

MAX_QUESTION_CHARS = 1000
MAX_K = 50
# The articles "don't say" when the best sentence's relevance (its fused score without the
# `distinct` part, see `relevance`) is below ANSWER_THRESHOLD, or when neither it nor its
# paragraph is near the question in meaning (cosine below MEANING_THRESHOLD: words alone, like
# "capital", do not make an answer). Both were calibrated on tests/data/seed_questions.jsonl:
# the midpoints of the widest gaps that abstain on no answerable question; ANSWER_THRESHOLD on
# all 60 questions (`python -m qa eval tests/data/seed_questions.jsonl --calibrate all`): half of
# them holds only 5 unanswerable questions, too few to calibrate on and hold the rest out.
ANSWER_THRESHOLD = 0.149
MEANING_THRESHOLD = 0.246
# Added to a sentence's score when its speaker is the one the question asks about: enough
# to put that speaker's relevant sentences first, not enough to lift an unrelated one.
SPEAKER_BONUS = 0.1
# The same in the second stage's ranking scores (qa.rerank), where neighbouring candidates
# stand about one apart.
SPEAKER_BONUS_RANKED = 1.0
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class QuestionError(ValueError):
    """A question that cannot be asked; the message says why, in one line."""


@dataclass(frozen=True)
class Answer:
    question: str
    answered: bool
    quotes: tuple[Quote, ...] = ()
    query: str = ""  # what was searched: the question, or its follow-up rewrite
    confidence: float = float("-inf")  # what abstention judged: `relevance` of the best sentence
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


def check_filters(speaker, source, since, until) -> None:
    for name, value in (("speaker", speaker), ("source", source)):
        if value is not None and (not isinstance(value, str) or len(value) > 200):
            raise QuestionError(f"{name} must be a short text")
    for name, value in (("since", since), ("until", until)):
        if value is not None and (not isinstance(value, str) or not _ISO_DATE.match(value)):
            raise QuestionError(f"{name} must be a date as YYYY-MM-DD")


def resolve(index, embedder, question: str, history: list[str]) -> str:
    """What to search for: the question, or its follow-up rewrite given the earlier ones."""
    def speaker_of(previous: str) -> str | None:
        """Who said the best answers to an earlier question: the person "he" or "she" means."""
        for h in second_stage.search(index, embedder.encode([previous])[0], previous, k=3):
            name = index.sentence_who(h.row)[1]
            if name and sourcing.is_person(index, name):
                return name
        return None
    return followup.rewrite(question, history, lambda name: sourcing.is_person(index, name), speaker_of)


def judge(weights: dict | None = None, rerank=True):
    """The second-stage model that judges an answer, or None for the first stage alone
    (turned off, or fusion `weights` given for a baseline). `rerank` may be a
    `qa.rerank.Reranker` to judge with instead of the default one."""
    if weights is not None or not rerank:
        return None
    return rerank if isinstance(rerank, second_stage.Reranker) else second_stage.default()


def answer(index, embedder, question: str, k: int = 3, history=None,
           threshold: float | None = None, weights: dict | None = None,
           speaker: str | None = None, source: str | None = None,
           since: str | None = None, until: str | None = None, rerank=True) -> Answer:
    """Answer `question` from `index`. `threshold` overrides the abstention threshold of the
    stage that judges (the second stage's probability, or the first stage's relevance when
    the second is off, `rerank` is false or `weights` override the first stage's fusion);
    `rerank` may also be a `qa.rerank.Reranker` to answer with."""
    q = check_question(question, k)
    check_filters(speaker, source, since, until)
    if len(index) == 0:
        return Answer(question=question, answered=False, query=followup.rewrite(q, check_history(history)))

    query = resolve(index, embedder, q, check_history(history))
    model = judge(weights, rerank)
    # the second stage's embeddings of the question start first, beside the question's own vector
    ahead = second_stage.QuestionSide(query, index, embedder.encode_few) if model is not None else None
    qvec = embedder.encode([query])[0]
    asked = None if speaker else sourcing.asked_speaker(query)
    narrowed = bool(speaker or source or since or until or asked)
    hits = second_stage.search(index, qvec, query, k=max(3 * k, 10) if not narrowed else max(10 * k, 100),
                               weights=weights, reranker=model, asked=q, encode=embedder.encode_few, ahead=ahead)

    def said_by(h, wanted):
        _, name, title = index.sentence_who(h.row)
        return sourcing.speaker_matches(name, wanted, title)

    def article_ok(h):
        a = index.article(int(index.sent[h.row, 0]))
        return sourcing.source_matches(a, source) and sourcing.date_in_range(a, since, until)

    if source or since or until:
        hits = [h for h in hits if article_ok(h)]
    if speaker:
        hits = [h for h in hits if said_by(h, speaker)]
    top = hits[0] if hits else None  # abstention judges the best sentence on its own merits
    if asked:
        bonus = SPEAKER_BONUS_RANKED if hits and hits[0].answers >= 0 else SPEAKER_BONUS
        hits = sorted((replace(h, score=h.score + bonus) if said_by(h, asked)
                       else h for h in hits), key=lambda h: -h.score)
    if top is None:
        confidence, answered, more = float("-inf"), False, None
    elif model is not None and top.answers >= 0:  # the second stage's calibrated probability
        confidence = top.answers
        # and, as without it, enough relevance and meaning: a question in another script or
        # about nothing the articles discuss must not pass on the probability alone
        answered = confidence >= (model.thresholds["answer"] if threshold is None else threshold) \
            and relevance(replace(top, score=top.first), weights) >= ANSWER_THRESHOLD \
            and max(top.dense, top.dense_para) >= MEANING_THRESHOLD
        # after the first, a quote only where it too clears the bar (k is a maximum, not a quota)
        more = model.thresholds["more"] if answered else None
    else:
        confidence = relevance(top, weights)
        answered = confidence >= (ANSWER_THRESHOLD if threshold is None else threshold) \
            and max(top.dense, top.dense_para) >= MEANING_THRESHOLD
        more = None
    quoted = hits[:1] + [h for h in hits[1:] if h.answers >= more] if more is not None else hits
    quotes = _distinct_quotes(index, quoted, query, k)
    if answered and quotes and (not holds_what_was_asked(q, quotes[0].text) or asked and (
            quotes[0].kind == "caption" or sourcing.absent_from(index, quotes[0].article, asked)
            or sourcing.said_by_the_other(query, asked, quotes[0].speaker, quotes[0].speaker_title,
                                          quotes[0].text))):
        # "how much…?" and the best quote holds no amount, or "what did Lavrov say…?" and it is
        # a photo caption (it shows him; it reports nothing he said), or its article never names
        # him, or it is the words of another person the question names: the articles don't
        # say; show the closest passages as for any declined question. The reader's own question
        # decides what was asked: an earlier "how much" searched along with a follow-up does not.
        answered = False
        quotes = _distinct_quotes(index, hits, query, k)
    return Answer(question=question, answered=answered, quotes=tuple(quotes), query=query,
                  confidence=confidence)


def relevance(hit, weights: dict | None = None) -> float:
    """How well the best sentence answers: its fused score without the `distinct` part, which
    ranks sentences against each other (prefer the specific one) but says nothing about
    whether any of them answers; a question in Chinese must not pass on distinctness."""
    return hit.score - {**WEIGHTS, **(weights or {})}["distinct"] * hit.distinct


def _distinct_quotes(index, hits, query: str, k: int) -> list[Quote]:
    """Quotes of `hits` until `k` distinct ones: near-identical quotes merge ("N sources"), and
    a further sentence is quoted only when one did."""
    made: list[Quote] = []
    nd = NearDuplicates()
    for q in iter_quotes(index, hits, query, first=k):
        made.append(q)
        nd.add(q.text)
        if len(nd.groups) >= k:
            break
    return _with_sources(index, made, nd.groups)


def _with_sources(index, quotes: list[Quote], groups: list[list[int]]) -> list[Quote]:
    """Speaker, kind and dates on every quote; near-identical quotes (`groups`) merged into the first."""
    out = []
    for group in groups:
        first = quotes[group[0]]
        kind, who, title = sourcing.who(index, first.rows)
        others = tuple(dict.fromkeys(quotes[i].article for i in group[1:] if quotes[i].article != first.article))
        out.append(replace(first, kind=kind, speaker=who, speaker_title=title, also_in=others,
                           dates=tuple(sourcing.when(first.text, first.article.date))))
    return out
