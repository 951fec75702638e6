"""Where the quotations of a paragraph open and close: `quotations`, `quote_state`.

Curly marks pair as they face. Straight marks pair by the way they face too, not one after
the other, so an archive that ran its paragraphs together (where a quotation going on into the
next paragraph opens again without closing) keeps its narration outside the quotations.

What is left out: who said them (`qa.attribution`).
"""

from __future__ import annotations

import re


def quote_state(p: str) -> tuple[list[bool], list[int]]:
    """Per character: inside a quotation (marks included)? and that quotation's word count.
    A quotation left open runs to the paragraph's end (the multi-paragraph convention)."""
    mask, words = [False] * len(p), [0] * len(p)
    for s, e in quotations(p):
        n = len(re.findall(r"\w+", p[s:e]))
        mask[s:e] = [True] * (e - s)
        words[s:e] = [n] * (e - s)
    return mask, words


def quotations(p: str) -> list[tuple[int, int]]:
    """(start, end) of each quotation in `p`, marks included. Curly marks pair as they face.
    Straight marks pair by which way they face too, not one after the other: a mark with a space
    (or the start, or a bracket) before it and a letter after it opens a quotation even inside one,
    the previous one ending there. An archive that ran paragraphs together keeps the convention of
    a quotation going on into the next paragraph with no closing mark: `we know where we are at.
    "There's been no contact. We don't want to lose him." Real Madrid's general manager…` closes
    before "Real". Paired one after the other, the second mark closed and the third opened a
    quotation that ran to the paragraph's end, so the narration after it became the speaker's."""
    out, open_at = [], None
    for m in re.finditer(r'“[^”]*(?:”|$)|"', p):
        i = m.start()
        if m.group(0) != '"':
            if open_at is not None:  # a straight quotation left open ends where a curly one starts
                out.append((open_at, i))
                open_at = None
            out.append((i, m.end()))
            continue
        before = p[i - 1] if i else " "
        after = p[i + 1] if i + 1 < len(p) else " "
        opens = (before.isspace() or before in "([") and not after.isspace()
        closes = not before.isspace() and (after.isspace() or after in ".,;:!?)]—–-'’")
        if open_at is None:
            if opens or not closes:  # a closing mark with nothing open (12" screens) opens nothing
                open_at = i
        elif opens and not closes:
            out.append((open_at, i))
            open_at = i
        else:
            out.append((open_at, i + 1))
            open_at = None
    if open_at is not None:
        out.append((open_at, len(p)))
    return out
