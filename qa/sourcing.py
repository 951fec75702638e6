"""What makes a news quote trustworthy: who said it and when.

Given quotes (verbatim spans of articles), this module gives the speaker and
the kind of sentence (`qa.attribution`, stored in the index when an article is
indexed: quote / paraphrase / narration) and the relative dates inside the
quote resolved against the article's date (`qa.dates`). It also reads which
speaker a question asks about ("What did Power say about Assad?") and matches
speakers, outlets and dates for the filters of `qa.ask`.

What is left out: ranking (`qa.search`), the attribution rules themselves, and
grouping near-identical quotes into "N sources" (`qa.dedupe`, used by `qa.answer`).
"""

from __future__ import annotations

import re

from .articles import Article
from .dates import resolve_relative_dates

def who(index, rows) -> tuple[str, str | None, str | None]:
    """(kind, speaker, speaker_title) of a quote made of sentence `rows` of the index.

    A span of several sentences is a "quote" if any of them is, else the first
    attributed kind; the speaker is the first one named. Attribution was worked
    out when the article was indexed (`Index.sentence_who`).
    """
    parts = [index.sentence_who(r) for r in rows]
    if not parts:
        return "narration", None, None
    kinds = [p[0] for p in parts]
    kind = "quote" if "quote" in kinds else next((k for k in kinds if k != "narration"), "narration")
    named = next((p for p in parts if p[1]), None)
    return kind, (named[1] if named else None), (named[2] if named else None)


def when(text: str, article_date: str | None) -> list[dict]:
    """Relative dates in `text` ("on Monday") as [{"phrase", "date"}], against the article's date."""
    return [{"phrase": p, "date": d} for p, d in resolve_relative_dates(text, article_date)]


# ------------------------------------------------------------ speakers asked for

_SPEECH = r"(?:say|said|tell|told|think|thinks|claim|argue|mean|want|propose|suggest|accuse|warn|urge|" \
          r"believe|feel|blame|call|describe|add|predict|demand|promise|criticize|criticise)"
_ASKED = [
    re.compile(rf"\b(?:did|does|do|has|have|had|would|will|could)\s+(?:the\s+)?(?P<who>.+?)\s+{_SPEECH}\b", re.I),
    re.compile(r"\baccording to\s+(?P<who>[^,?.;]+)", re.I),
    re.compile(r"\b(?P<who>[A-Z][\w.’'-]*(?:\s+[A-Z][\w.’'-]*)*)['’]s\s+"
               r"(?:view|views|position|words|comments|remarks|argument|statement|quote|opinion)\b"),
]
_NOT_A_NAME = {"you", "they", "he", "she", "it", "we", "i", "people", "anyone", "anybody", "someone",
               "the article", "the articles", "article", "articles", "report", "reports"}
_NOT_A_NAME_WORD = _NOT_A_NAME | {"what", "which", "who", "how"}  # ends a name read backwards (`absent_from`)


def asked_speaker(question: str) -> str | None:
    """The speaker a question asks about, if it names one: 'What did Power say about Assad?' -> 'Power'."""
    for pattern in _ASKED:
        m = pattern.search(question)
        if m:
            name = m.group("who").strip(" ,.?!'’\"“”")
            if name and name.lower() not in _NOT_A_NAME and any(w[:1].isupper() for w in name.split()):
                return name
    return None


def is_person(index, name: str, scan: int = 200) -> bool:
    """Whether the articles quote a person by this name: a speaker of two or more words
    ("Sergei Lavrov") whose surname is the name's last word. "Russia" and "Damascus" speak
    in news copy too, but are not "he" or "she". Looks only at sentences that hold the word."""
    from .search import sentences_with
    words = _words(name)
    if not words:
        return False
    surname = _bare(words[-1])
    memo = index.__dict__.setdefault("_qa_is_person", {})
    if surname not in memo:
        speakers = (_words(index.sentence_who(row)[1] or "") for row in sentences_with(index, surname)[:scan].tolist())
        memo[surname] = any(len(have) >= 2 and have[-1] == surname for have in speakers)
    return memo[surname]


def _words(s: str) -> list[str]:
    return re.findall(r"[\w’'-]+", s.lower())


def _bare(word: str) -> str:
    """A word without its possessive: "lavrov's" -> "lavrov", "services'" -> "services"."""
    return re.sub(r"['’]s?$", "", word)


_TITLE_FILLER = {"the", "a", "an", "of", "to", "for", "and", "s"}


def speaker_matches(speaker: str | None, wanted: str | None, title: str | None = None) -> bool:
    """'Samantha Power' matches 'Power', 'samantha power' and 'Ambassador Power'; not 'Powell'.
    With the speaker's `title`, a question may name the office instead: 'the Russian minister'
    matches Sergei Lavrov, 'Russian Foreign Minister' (every word of it is in the name or title)."""
    if not speaker or not wanted:
        return False
    have, want = _words(speaker), _words(wanted)
    if not have or not want:
        return False
    if " ".join(want) in " ".join(have):
        return True
    if have[-1] in want:
        return True
    if title:
        content = {_bare(w) for w in want} - _TITLE_FILLER
        return bool(content) and content <= set(_words(title)) | set(have)
    return False


def said_by_the_other(question: str, wanted: str, speaker: str | None, title: str | None, text: str) -> bool:
    """Whether a quote is the words of another person the question names, and not about the one
    it asks for: "What did President Obama say in reply to Lavrov?" and Lavrov's "…," he said.
    Only then: a speaker who is not `wanted` may still report what `wanted` said ("This morning
    Peter Hain even called me a mongrel", Michael Howard said), so a quote that names `wanted`
    passes, as does one whose speaker the question does not name outside `wanted`."""
    if not speaker or speaker_matches(speaker, wanted, title):
        return False
    have, want = _words(speaker), {_bare(w) for w in _words(wanted)}
    surname = _bare(have[-1]) if have else ""
    if not surname or surname in want:
        return False
    named = {_bare(w) for w in _words(question)} - want
    return surname in named and not (want & {_bare(w) for w in _words(text)} - _TITLE_FILLER)


def absent_from(index, article: Article, wanted: str) -> bool:
    """Whether the person a question asks about ("What did Chancellor Gordon Brown say…?") is
    named nowhere in `article` (title, body, captions): then none of its sentences is their words.
    Only for a person's name (two capitalised words, or a surname the articles quote a person
    by); "How does Moscow feel…?" may be answered by what Russia's minister said."""
    words = []  # the capitalised words it ends with: "Home Secretary Charles Clarke", not "its chairman"
    for w in reversed(re.findall(r"[\w’'-]+", wanted)):
        if not w[:1].isupper() or w.isupper() or w.lower() in _NOT_A_NAME_WORD:
            break
        words.insert(0, w)
    if not words or len(words) < 2 and not is_person(index, " ".join(words)):
        return False
    surname = _bare(words[-1].lower())
    return surname not in {_bare(w) for w in _words(f"{article.title}\n{article.text}")}


def source_matches(article: Article, wanted: str | None) -> bool:
    """An outlet or author named loosely: matched in the byline, the url's host or the title."""
    if not wanted:
        return True
    w = wanted.lower().strip()
    host = re.sub(r"^https?://(www\.)?", "", (article.url or "").lower()).split("/")[0]
    return any(w and w in (x or "").lower() for x in (article.byline, host, article.title))


def date_in_range(article: Article, since: str | None, until: str | None) -> bool:
    """ISO dates compare as strings; an undated article is outside any date range."""
    if not since and not until:
        return True
    if not article.date:
        return False
    return (not since or article.date >= since) and (not until or article.date <= until)
