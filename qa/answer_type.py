"""Does a quote hold the kind of thing its question asks for? The last check before answering.

"How much did Sony pay Disney to back Blu-ray?" is not answered by "Disney said its films
would be available on the Blu-ray format": the sentence is about the right companies and
deal, and the second stage may rank it first with a fair probability, but it holds no amount.
A reader is better served by "the articles don't say". So a question that asks for a
quantity (how many/much/long/far/old…, what percentage/number/amount…; `qa.search`'s
question types) is answered only when its first quote holds a number the question does not:
digits with whatever unit is attached ("£234m", "A$846m", "79p", "200mph", "£2000", "40%"), or
number words ("thirteen", "a dozen", "half", "a decade"). A bare year ("in 1988") is not a
quantity, except for "how long" ("since 1997").

Measured on the fit halves and the BBC training questions (benchmarks/train_reranker.py's
fit parts) before it was switched on: no answerable question declined by it, and 6 more of
the 56 unanswerable ones declined. Dates and names are not checked: almost every news
sentence holds a date word or a capitalised name, so the check declined nothing there.

This is its own number pattern, not `qa.search._NUMBER`: that one is a feature the shipped
second-stage model was trained with (and misses "£234m"), so it stays as it is until the
model is retrained.

What is left out: the ranking itself (`qa.search`, `qa.rerank`), the probability bar (`qa.answer`).
"""

from __future__ import annotations

import re

from .search import question_type

_QUANTITY = re.compile(
    r"(?P<cur>[£$€¥]\s?)?\b(?P<num>\d[\d,.]*)(?P<unit>[a-z]*)\b|%|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|"
    r"eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?|half|halves|"
    r"third|quarter|decades?|percent|per cent|double|twice|triple)\b", re.I)
_YEAR = re.compile(r"^(?:1[89]\d\d|20\d\d)$")
_HOW_LONG = re.compile(r"\bhow long\b", re.I)


def _found(text: str, keep_years: bool) -> list[str]:
    """Quantities in `text`, lower-cased, units attached ("200mph", "£2000"); a bare 1800-2099
    (or "1990s") is a year, not a quantity, unless `keep_years`."""
    out = []
    for m in _QUANTITY.finditer(text):
        if m.group("num") is not None:
            num, unit = m.group("num").rstrip(".,"), m.group("unit").lower()
            if not keep_years and not m.group("cur") and unit in ("", "s") and _YEAR.match(num):
                continue
            out.append(num + unit)
        else:
            out.append(m.group(0).lower())
    return out


def quantities(text: str, question: str = "") -> list[str]:
    """The quantities in `text` that `question` does not already hold (years left out, but for
    a "how long" question)."""
    keep_years = bool(_HOW_LONG.search(question))
    said = set(_found(question, True))
    return [n for n in _found(text, keep_years) if n not in said]


def holds_what_was_asked(question: str, quote: str) -> bool:
    """False only when `question` asks for a quantity and `quote` holds none it does not."""
    if question_type(question) != "number":
        return True
    return bool(quantities(quote, question))
