"""The header lines of a plain-text or markdown article: its byline and its date line.

"By X | October 22, 2014 | 4:21am EDT" gives an author (or outlet) and a date; a bare date
line gives a date. A lead that merely opens with "By" ("By 2025, 40% of the UK…") is the
article's first sentence, not a byline.

What is left out: where in the file header lines may stand (`qa.articles`).
"""

from __future__ import annotations

import datetime as _dt
import re

_BYLINE = re.compile(r"^by\s+(.+)$", re.I)


def as_date(s: str) -> str | None:
    """ISO date if the whole string is a date (with a year), else None."""
    s = s.strip().strip(".,;|").strip()
    if not (4 <= len(s) <= 60) or not re.search(r"\b(1[89]|20)\d\d\b", s):
        return None
    from dateutil import parser as dparser
    try:
        d = dparser.parse(s, fuzzy=False, default=_dt.datetime(2000, 1, 1))
    except (ValueError, OverflowError):
        try:  # "October 22, 2014 4:21am EDT" and the like: allow trailing time words
            d, skipped = dparser.parse(s, fuzzy_with_tokens=True, default=_dt.datetime(2000, 1, 1))
        except (ValueError, OverflowError):
            return None
        if sum(len(t.strip(" ,|")) for t in skipped) > 6:
            return None
    return d.date().isoformat()


def parse_byline(s: str) -> tuple[str | None, str | None] | None:
    """'By X | October 22, 2014 | 4:21am EDT' -> ('X', '2014-10-22'); None where the line is not a
    byline but a sentence that opens with "By" ("By 2025, 40% of the UK…", "By any measure, …")."""
    m = _BYLINE.match(s)
    if not m or len(s) >= 200:
        return None
    rest = m.group(1).strip()
    name = re.sub(r"^the\s+", "", rest.lstrip("[\"“'‘"), flags=re.I)  # "By the Associated Press"
    if not name[:1].isupper() or (len(rest.split()) > 12 and rest.endswith((".", "!", "?"))):
        return None
    parts = [p.strip() for p in re.split(r"\s+[|•·]\s+|\s+[–—]\s+", rest) if p.strip()]
    author, date = None, None
    for p in parts:
        d = as_date(p)
        if d and date is None:
            date = d
        elif author is None and not d and not re.match(r"^\d{1,2}:\d\d", p):
            author = p.rstrip(",")
    if author and date is None:  # "By X, October 22, 2014"
        head, _, tail = author.rpartition(",")
        if head and (d := as_date(tail)):
            author, date = head.strip(), d
    return author, date
