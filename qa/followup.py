"""Carry what earlier questions were about into a follow-up question, without an LLM.

"What did Samantha Power say about Assad?" then "And what did she say about
ISIL?" becomes "And what did Power say about ISIL?": a personal pronoun takes
the surname of the first name the previous questions mentioned (articles name
a person in full once, then by surname); an elliptical
follow-up ("What about Lavrov?", "Why?") is searched together with the
previous question. A question that stands on its own — it names its own
subject and neither opens like a follow-up nor leans on a pronoun — is left
untouched, so history never hijacks a new question.

What is left out: retrieval itself.
"""

from __future__ import annotations

import re
from typing import Callable

_PERSON_PRONOUNS = r"he|she|him|her|his|hers|himself|herself"
_OTHER_PRONOUNS = r"they|them|their|theirs|it|its"
_PRONOUN = re.compile(rf"\b({_PERSON_PRONOUNS}|{_OTHER_PRONOUNS})\b", re.I)
# Not "why": "Why isn't Russia in the coalition?" stands alone; a bare "Why?" or "Why not?" is
# elliptical by its lack of content words (`is_followup`).
_OPENERS = re.compile(r"^\s*(and|but|also|so|then|what about|how about|what else|and what about|"
                      r"how so|anything else|more)\b", re.I)
_QUESTION_WORDS = {"what", "why", "who", "whom", "whose", "when", "where", "which", "how", "did", "does",
                   "do", "is", "are", "was", "were", "can", "could", "should", "would", "will", "has",
                   "have", "had", "and", "but", "so", "tell", "according", "in", "on", "the", "a", "an"}
# Capitalised runs ("Samantha Power", "U.S.-led", "Bashar al-Assad")
_NAME = re.compile(r"\b[A-Z][\w.'’-]*(?:\s+(?:al-|bin\s+|de\s+|van\s+)?[A-Z][\w.'’-]*)*")
_CONTENT = re.compile(r"[A-Za-z]{4,}")


def names(text: str) -> list[str]:
    """Capitalised names in a question, skipping the capital of its first word."""
    out = []
    for m in _NAME.finditer(text):
        words = m.group(0).split()
        while words and words[0].lower() in _QUESTION_WORDS:
            words = words[1:]
        if words:
            out.append(" ".join(words).rstrip(".'’"))
    return out


def is_followup(question: str) -> bool:
    q = question.strip()
    if _OPENERS.match(q) or _PRONOUN.search(q):
        return True
    content = [w for w in _CONTENT.findall(q) if w.lower() not in _QUESTION_WORDS]
    return len(content) <= 1 and not names(q)


def rewrite(question: str, history: list[str] | None,
            is_person: Callable[[str], bool] | None = None,
            speaker_of: Callable[[str], str | None] | None = None) -> str:
    """The question to search for, given the reader's earlier questions (oldest first).

    With `is_person` (does this name belong to a person the articles quote?), "he" and
    "she" take the latest person the earlier questions named, skipping places and countries;
    when they named none ("Why isn't Russia in the coalition?" then "What else did he say?"),
    `speaker_of(previous question)` names the person who said the best answer to it.
    """
    history = [h for h in (history or []) if isinstance(h, str) and h.strip()]
    if not history or not is_followup(question):
        return question
    previous = history[-1]
    prev_names = next((names(h) for h in reversed(history) if names(h)), [])
    if re.search(rf"\b({_PERSON_PRONOUNS})\b", question, re.I):
        person = _person(history, prev_names, is_person, speaker_of)
        if person:
            # News copy names a person in full once, then by surname: "Power said".
            surname = person.split()[-1]

            def sub(m):
                w = m.group(0).lower()
                return surname + "'s" if w in ("his", "hers") else surname
            return re.sub(rf"\b({_PERSON_PRONOUNS})\b", sub, question, flags=re.I)
    own = names(question)
    if own and not _PRONOUN.search(question):
        # "What about Lavrov?": the new subject, the old predicate
        return f"{question} {previous}"
    return f"{previous} {question}"


def _person(history, prev_names, is_person, speaker_of) -> str | None:
    if is_person is None:
        return prev_names[0] if prev_names else None
    for h in reversed(history):
        for name in names(h):
            if is_person(name):
                return name
    who = speaker_of(history[-1]) if speaker_of else None
    return who or (prev_names[0] if prev_names else None)
