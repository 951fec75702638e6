"""The question with the names of its topic masked out, for the second stage (`qa.rerank`).

Inside the right article every sentence names the question's company, person or event, so
the plain cosine of question and sentence mostly says "same topic". The sentence that
answers is told apart by what else it shares with the question: "employees … shed" meets
"cut … jobs" once "Deutsche Telekom" is gone from the question. So the names the question
spells with a capital are removed from it and the rest is embedded again (one short text a
question); its cosine with each candidate sentence, as stored, is a second-stage feature.

Masking the sentences as well (embedding every candidate again) was measured and was no
better at telling the answering sentence of an article from its other sentences (pairwise,
BBC fit questions: 0.83 against 0.86 for the question alone) while costing ~9 ms a sentence
on this machine's cores.

What is left out: the cosine and its fusion (the second stage's).
"""

from __future__ import annotations

import re

from .search import query_tokens

_WORD = re.compile(r"[\w'’-]+")
# Capitalised words that are not names: question and function words, pronouns.
_NOT_NAMES = frozenset("a an and the what which who whom whose when where why how is are was were did does do "
                       "has have had will would could can should in on at of for to by with from as i he she it "
                       "they we you his her its their our my mr mrs ms dr".split())


def names(question: str) -> set[str]:
    """Lower-cased words the question capitalises that name something (not its first word,
    nor question or function words): the topic it shares with every sentence of its story."""
    out = set()
    for i, m in enumerate(_WORD.finditer(question)):
        w = m.group(0)
        if i > 0 and w[:1].isupper() and w.lower() not in _NOT_NAMES:
            out.add(w.lower())
    return out


def masked(text: str, words: set[str]) -> str:
    """`text` without the words in `words` (whole words, any case, a possessive 's too)."""
    if not words:
        return text
    return " ".join(w for w in _WORD.findall(text) if w.lower() not in words
                    and not (w.lower().endswith(("'s", "’s")) and w.lower()[:-2] in words))


def masked_question(question: str) -> str | None:
    """The question without its names, or None where it names nothing or no search term is left
    ("What did Power say about Assad?" leaves "What did say about": nothing to compare)."""
    words = names(question)
    if not words:
        return None
    rest = masked(question, words)
    return rest if query_tokens(rest) else None
