"""Split paragraphs into sentence spans with pysbd.

pysbd (rule-based, the Golden Rules of sentence boundaries) survives "U.S.-led",
"U.N.", "Sept. 11", quotes inside quotes and brackets, where a regex on ". "
does not. Spans are character offsets into the paragraph, so a sentence is
always a verbatim slice of its article; pysbd's own `char_span` mode is not
used because it mis-places repeated sentences.

What is left out: which sentences become quotes (`qa.quotes`).
"""

from __future__ import annotations

import re

_segmenter = None
_QUOTE_MARKS = re.compile(r'[“”"]')
# Orphan punctuation pysbd may leave at a sentence's edge: an emptied dateline "( –",
# a stray dash. Trimmed from spans so quotes start on a word or an opening quote.
_LEAD_JUNK = re.compile(r"^[\s(\[–—-]*(?=[\w“\"‘'(\[])")
# A dot that starts a word is not a full stop: domain names (".post", ".com"), file types
# (".png"). pysbd splits at it ("The ." + "post and ."), so it is hidden from pysbd.
_WORD_DOT = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[(“\"]))\.(?=[a-z][a-z0-9]+\b)")
# What continues the sentence before it rather than starting one: a word in lower case
# ("said Mr Lewis.", "he added.", "...with a failed policy"), the dot of an ellipsis, or a
# comma after a title that ends in "?" ("Are We There Yet?, slipped to second place").
_CONTINUES = re.compile(r"^(?:[,;:]|[a-z][a-z'’-]*\b|\.)")
# A speaker after a quotation that ends in its own full stop: '"...happened." Mr Lewis asked.'
_QUOTE_END = re.compile(r"[.?!,][\"”’']\s*$")
# A photo credit after a caption's sentence: "(AP Photo/Brendan Smialowski, Pool)".
_CREDIT = re.compile(r"^\([^()]*\b(?:Photos?|Pool|Getty|AFP|Reuters|EPA|AP)\b[^()]*\)$")
_ATTRIBUTION = re.compile(r"^(?:[A-Z][\w'’.-]*\s+){1,4}(?:\w+ly\s+)?(?:said|says|asked|asks|added|adds|"
                          r"told|tells|recalled|recalls|pressed|replied|replies|insisted|insists|"
                          r"explained|explains|continued|continues|warned|warns|argued|argues|wrote|writes)\b"
                          r"[^.!?]{0,60}[.!?]$")


def _seg():
    global _segmenter
    if _segmenter is None:
        import pysbd
        _segmenter = pysbd.Segmenter(language="en", clean=False)
    return _segmenter


def split(paragraph: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `paragraph`, in order, stripped of outer whitespace."""
    if not paragraph.strip():
        return []
    # pysbd keeps a whole quotation as one sentence; a reader wants the sentence
    # inside it. Blank the quote marks (same length, so offsets hold), split,
    # then give each span back the quote marks that touch it.
    blanked = _WORD_DOT.sub("x", _QUOTE_MARKS.sub(" ", paragraph))
    spans: list[tuple[int, int]] = []
    cursor = 0
    for seg in _seg().segment(blanked):
        seg = seg.strip()
        if not seg:
            continue
        at = blanked.find(seg, cursor)
        if at < 0:  # pysbd altered the text; fall back to a plain split of what remains
            spans.extend(_fallback(paragraph, cursor))
            cursor = len(paragraph)
            break
        start, end = at, at + len(seg)
        while start > cursor and _QUOTE_MARKS.match(paragraph[start - 1]):
            start -= 1
        while end < len(paragraph) and _QUOTE_MARKS.match(paragraph[end]):
            end += 1
        spans.append((start, end))
        cursor = end
    if cursor < len(paragraph) and paragraph[cursor:].strip():
        spans.extend(_fallback(paragraph, cursor))
    return _tidy(paragraph, spans)


def _fallback(paragraph: str, start: int) -> list[tuple[int, int]]:
    out = []
    for m in re.finditer(r"\S.*?(?:[.!?]+[\"”’')\]]*(?=\s+[A-Z“\"‘(])|$)", paragraph[start:], re.S):
        out.append((start + m.start(), start + m.end()))
    return out


def _tidy(paragraph: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Trim leading junk; glue fragments with no letters (a lone quote mark) to a neighbour."""
    out: list[tuple[int, int]] = []
    for s, e in spans:
        m = _LEAD_JUNK.match(paragraph, s, e)
        if m and m.end() < e and not _balanced_open(paragraph[s:m.end()], paragraph[m.end():e]):
            s = m.end()
        if not re.search(r"\w", paragraph[s:e]):
            if out:
                out[-1] = (out[-1][0], e)
            continue
        if out and out[-1][1] > s:
            s = out[-1][1]
        if out and _continues(paragraph, out[-1], paragraph[s:e]):
            out[-1] = (out[-1][0], e)
            continue
        out.append((s, e))
    return out


def _continues(paragraph: str, prev: tuple[int, int], text: str) -> bool:
    """Whether `text` is the rest of the sentence at `prev` that pysbd cut off: it starts in
    lower case or with an ellipsis' dot, it is a photo credit, or it names the speaker of the
    quotation before it."""
    if _CONTINUES.match(text) or _CREDIT.match(text):
        return True
    return bool(_QUOTE_END.search(paragraph[prev[0]:prev[1]]) and _ATTRIBUTION.match(text))


def _balanced_open(prefix: str, rest: str) -> bool:
    """Keep a leading '(' or '[' that the sentence itself closes: '(Reuters) ...', '[O]ur ...'."""
    for o, c in ("()", "[]"):
        if o in prefix and rest.count(c) > rest.count(o):
            return True
    return False
