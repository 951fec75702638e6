"""Relative dates in a sentence ("on Monday", "yesterday", "last week"), resolved
against the article's date, so a reader sees when "Monday" was.

What is left out: absolute dates (they need no resolving) and header dates
(`qa.articles`).
"""

from __future__ import annotations

import datetime as _dt
import re

_WEEKDAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
_DATE_PHRASE = re.compile(
    r"\b(?:(?:on|last|this|next|since|until|by|from)\s+)?(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday)(?:[’']s)?\b|\b(?:yesterday|today|tonight|tomorrow|last night)\b|"
    r"\b(?:earlier |later )?(?:this|last|next) (?:week|month|year|morning|afternoon|evening)\b|"
    r"\b(?:a|an|one|two|three|four|five|six|seven|eight|nine|ten|\d+) (?:days?|weeks?) ago\b", re.I)
_FUTURE = re.compile(r"\b(?:will|shall|due to|scheduled to|set to|expected to|plans? to|next)\b", re.I)


def resolve_relative_dates(sentence: str, article_date: str | None, same_day: bool = False) -> list[tuple[str, str]]:
    """[(phrase, ISO date)] for relative dates in `sentence`, against the article's date.

    A weekday name is the most recent such day before the article date (after
    it, if the sentence speaks of the future: "will", "next"); `same_day=True`
    lets "on Tuesday" in a Tuesday article be that day (AP style). A week,
    month or year resolves to its first day. dateparser does the day arithmetic
    ("two days ago", "last night", "tomorrow"), so its English rules, not ours,
    define those phrases; week/month/year starts are computed here because
    dateparser gives the same weekday a week back, not the period.
    """
    if not article_date:
        return []
    base = _dt.date.fromisoformat(article_date)
    out = []
    for m in _DATE_PHRASE.finditer(sentence):
        phrase = m.group(0)
        low = re.sub(r"[’']s$", "", phrase.lower())
        day = None
        if p := re.search(r"(this|last|next) (week|month|year)", low):
            step = {"this": 0, "last": -1, "next": 1}[p.group(1)]
            if p.group(2) == "week":
                day = base - _dt.timedelta(days=base.weekday()) + _dt.timedelta(weeks=step)
            elif p.group(2) == "month":
                y, mo = divmod(base.year * 12 + base.month - 1 + step, 12)
                day = _dt.date(y, mo + 1, 1)
            else:
                day = _dt.date(base.year + step, 1, 1)
        elif w := next((d for d in _WEEKDAYS if d.lower() in low), None):
            delta = (base.weekday() - _WEEKDAYS.index(w)) % 7
            future = low.startswith("next") or (not low.startswith("last") and _FUTURE.search(sentence))
            if future:
                day = base + _dt.timedelta(days=(-delta) % 7 or (0 if same_day else 7))
            else:
                day = base - _dt.timedelta(days=delta or (0 if same_day else 7))
        else:
            day = _dateparser(re.sub(r"^(?:earlier|later) ", "", low), base)
        if day:
            out.append((phrase, day.isoformat()))
    return out


def _dateparser(phrase: str, base: _dt.date) -> _dt.date | None:
    import dateparser  # ~0.3 s to import and ~1 s for its first parse: only when needed
    got = dateparser.parse(phrase, languages=["en"], settings={
        "RELATIVE_BASE": _dt.datetime(base.year, base.month, base.day), "PREFER_DATES_FROM": "past"})
    return got.date() if got else None
