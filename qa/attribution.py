"""Who said each sentence of an article, and when: rules you can measure.

`attribute(article)` gives one `Attribution` per body sentence (the spans of
`qa.sentences.split`, offsets into `article.text`): its kind — "quote" (the
sentence is inside a direct quotation, or opens with "X said: “…"),
"paraphrase" (a reporting verb with a subject: "Lavrov said Russia…", "He
pointed out that…", "according to X", or a partial quotation carried on from
the last speaker) or "narration" — and its speaker, resolved to the full name
the article gives ("Foreign Minister Sergei Lavrov" makes a later "Lavrov",
"he" or "the minister" into "Sergei Lavrov", title "Foreign Minister").
A quotation that runs over several sentences or paragraphs takes the
attribution found anywhere in it, else the last speaker. Straight quotation
marks pair by the way they face (`qa.quotations`), so an archive that ran its
paragraphs together, where a quotation going on into the next paragraph opens
again without closing, does not turn the narration after it into a quotation
(on the BBC archive 1,067 of 4,552 paragraphs with straight marks had paired
wrongly: 7.4% of its sentences change kind). British copy writes honorifics
without a full stop ("Mr Blair said", resolved to the article's "Tony Blair"), and a
few title words are surnames too ("Mervyn King", "Bryan Singer"). `captions(article)`
gives the photo captions as kind "caption".

Names, titles and the article's cast of people are in `qa.people`, relative dates in
`qa.dates`, near-duplicate grouping in `qa.dedupe`.
`python -m qa.attribution` scores the rules against
the hand labels in tests/data/attribution_labels.jsonl and prints every miss.

What is left out: no parser or NER model (none is installed with a local
model, and these rules score well on the labelled set). Known limits: gender
is known only from honorifics (Mr., Ms.) and from earlier "he"/"she"
resolutions, so "she" picks the most recent speaker not already known to be
a "he"; a narration sentence's first-named person becomes a candidate for a
later "he" even when it is an object ("Officials met Peter Holm"); unnamed
sources ("officials said", "the utility said") have speaker None;
quotations in single quote marks are not tracked.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from . import sentences
from .people import ROLE, People, is_name_word, name_runs, tokens
from .quotations import quote_state
from .articles import Article


@dataclass(frozen=True)
class Attribution:
    start: int  # offsets in article.text (in the caption, for kind "caption")
    end: int
    kind: str  # "quote" | "paraphrase" | "narration" | "caption"
    speaker: str | None = None
    speaker_title: str | None = None
    text: str = ""
    paragraph: int = 0  # index in article.paragraphs (article.captions for captions)

    def to_dict(self) -> dict:
        return asdict(self)


_VERB = re.compile(
    r"\b(?:said|says|say|told|tells|added|adds|continued|stated|declared|explained|noted|notes|warned|warns|"
    r"urged|urges|argued|argues|accused|accuses|insisted|insists|stressed|pointed (?:out|to)|asked|"
    r"claimed|claims|replied|wrote|writes|announced|made clear|makes clear|suggested|complained|denied|"
    r"emphasi[sz]ed|maintained|predicted|called for|admitted|conceded|recalled|reiterated|vowed|"
    r"promised|threatened|charged|alleged|cautioned|contended|observed|remarked|responded|countered|"
    r"[Aa]ccording to)\b")
_SAY = re.compile(r"said|says|told|added|continued|asked|replied|wrote|noted|stated|declared|explained")
_ANON = re.compile(r"\b(?:officials?|diplomats?|sources?|analysts?|experts?|police|witnesses|residents|"
                   r"observers|critics|activists|spokes(?:man|woman|person)|statement|ministry|report)$|"
                   r"\b(?:the|a|an)\s+(?:[a-z-]+\s+){0,2}[a-z-]+$", re.I)
_ADVERBIAL = re.compile(
    r"(?:\s+(?:on|last|this|early|late|earlier|later)\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday|week|month|year|morning|night|evening|afternoon|day)|\s+(?:yesterday|today|also|again|then|"
    r"later|earlier|previously|once|has|have|had|would|will|could|did|further|[a-z]+ly)|\s+for\s+\w+)$")
_APPOSITIVE = re.compile(r",\s+((?:a|an|the|who|whose|which)\b[^,]{0,80}),$")
_QMARK = "“”\""


# -------------------------------------------------------------- attribution

_NO = object()  # "no attribution here", as against an attribution to nobody in particular (None)


def _subject(before: str, people: People):
    """The speaker whose name ends `before` (the text up to a reporting verb), or _NO."""
    b = before.rstrip()
    if re.search(r"\b(?:was|were|been|being|is|are|to)$", b):
        return _NO, None  # passive or infinitive: "were accused", "starting to acknowledge"
    prev = None
    while prev != b:
        prev, b = b, _ADVERBIAL.sub("", b).rstrip()
    appositive = _APPOSITIVE.search(b)
    b = b[:appositive.start()] if appositive else b
    if m := re.search(r"(?:^|[\s,])(he|she|they|we|I)$", b, re.I):
        return people.pronoun(m.group(1).lower()), None
    if m := re.search(rf"\b[Tt]he\s+((?:[\w.-]+\s+){{0,3}}{ROLE})$", b, re.I):
        return people.role(m.group(1)), None
    if _ANON.search(b):
        return None, None
    if not b or b[-1] in ",;:–—-" or not is_name_word(b.split()[-1]):
        return _NO, None
    runs = name_runs(b)
    if not runs or tokens(b)[-1][0] != runs[-1][-1]:
        return _NO, None
    name, title = people.name(runs[-1])
    if not title and appositive and appositive.group(1).startswith("the "):
        title = appositive.group(1)[4:]  # "Sergei Lavrov, the foreign minister, said"
        people.titles[name] = people.titles.get(name) or title
    return name, title


def _attribution(outside: str, people: People):
    """(speaker, title) from the sentence's text outside quotation marks, or (_NO, None)."""
    for m in _VERB.finditer(outside):
        before, after = outside[:m.start()], outside[m.end():]
        if m.group(0).lower() == "according to" or (_SAY.fullmatch(m.group(0)) and re.search(r"(?:^|,)\s*$", before)):
            if r := re.match(rf"\s*the\s+((?:[\w.-]+\s+){{0,3}}?{ROLE})\b", after, re.I):
                return people.role(r.group(1)), None
            runs = name_runs(after)
            # a name may follow a lowercase descriptor or two: "said meteorologist Tom Berg"
            if runs and re.match(rf"\s*(?:[a-z-]+\s+){{0,2}}{re.escape(runs[0][0])}\b", after):
                return people.name(runs[0])
            if m.group(0).lower() == "according to":
                return None, None
        who = _subject(before, people)  # "Lavrov, the foreign minister, said": no name after it
        if who[0] is not _NO:
            return who
    return _NO, None


def _narration_subject(outside: str, people: People) -> str | None:
    """The person a narration sentence is about ("Trade envoy Peter Holm disagreed."),
    so that a following "he said" can reach them: the first person named in its
    first six words with a lowercase word after the name (so not "Assad's backer")."""
    toks = tokens(outside)
    for i, (w, _, cut) in enumerate(toks[:6]):
        if is_name_word(w) and not cut and i + 1 < len(toks) and re.fullmatch(r"[a-z]+", toks[i + 1][0]):
            run = next((r for r in name_runs(" ".join(t[0] for t in toks[:i + 1])) if r[-1] == w), None)
            name = people.name(run)[0] if run else None
            if people.is_person(name):
                return name
    return None


def attribute(article: Article, spans: list[list[tuple[int, int]]] | None = None) -> list[Attribution]:
    """One Attribution per body sentence, in reading order.

    `spans`: the sentence spans of each paragraph when the caller has split them already
    (the index has); otherwise `qa.sentences.split` is run here."""
    people = People(article.text)
    feats = []
    for k, p in enumerate(article.paragraphs):
        mask, qwords = quote_state(p)
        base = article.paragraph_start(k)
        for s, e in (spans[k] if spans is not None else sentences.split(p)):
            first = next((i for i in range(s, e) if p[i].isalnum()), s)
            starts_q = mask[first] and qwords[first] >= 3
            outside = "".join(" , " if mask[i] and not (i > s and mask[i - 1]) else ("" if mask[i] else p[i])
                              for i in range(s, e))
            quoted = max((qwords[i] for i in range(s, e) if mask[i]), default=0)
            colon = re.search(rf"{_VERB.pattern}[^{_QMARK}]{{0,40}}[:,]\s*[{_QMARK}]", p[s:e])
            feats.append(dict(k=k, start=base + s, end=base + e, text=p[s:e], outside=outside,
                              quote=starts_q or bool(colon and quoted >= 3), partial=quoted >= 3,
                              open_after=mask[e - 1] and (e < len(p) and mask[e] or p[e - 1] not in "”\"")))
    # A quotation left open links a sentence to the next (and a paragraph to the next
    # when that one opens with a quotation mark, the newspaper convention).
    group = list(range(len(feats)))
    for i in range(1, len(feats)):
        a, b = feats[i - 1], feats[i]
        if a["open_after"] and b["quote"] and (a["k"] == b["k"] or b["text"][:1] in _QMARK):
            group[i] = group[i - 1]
    out: list[Attribution] = []
    current: tuple[str | None, str | None] = (None, None)
    group_who: dict[int, tuple] = {}
    for i, f in enumerate(feats):
        who = _attribution(f["outside"], people)
        if f["quote"]:
            g = group[i]
            if g not in group_who:
                found = who
                for j in range(i + 1, len(feats)):
                    if group[j] != g or found[0] is not _NO:
                        break
                    found = _attribution(feats[j]["outside"], people)
                group_who[g] = found if found[0] is not _NO else current
            if who[0] is _NO:
                who = group_who[g]
            kind = "quote"
        elif who[0] is not _NO:
            kind = "paraphrase"
        elif f["partial"]:
            kind, who = "paraphrase", current
        else:
            kind, who = "narration", (None, None)
        if kind != "narration":
            current = who
            people.spoke(who[0])
        else:
            people.spoke(_narration_subject(f["outside"], people))
        speaker, title = who
        if speaker and not title:
            title = people.titles.get(speaker)
        out.append(Attribution(f["start"], f["end"], kind, speaker, title, f["text"], f["k"]))
    return out


def captions(article: Article) -> list[Attribution]:
    """The photo captions, kind "caption" (offsets are into the caption itself)."""
    return [Attribution(0, len(c), "caption", None, None, c, i) for i, c in enumerate(article.captions)]


# ---------------------------------------------------------------- evaluate

ROOT = Path(__file__).resolve().parent.parent
LABELS = ROOT / "tests" / "data" / "attribution_labels.jsonl"


def evaluate(labels: Path = LABELS, seeds: Path = ROOT / "seeds") -> dict:
    """Kind and speaker accuracy of `attribute`/`captions` against hand labels."""
    from .articles import EXTENSIONS, read_article
    rows = [json.loads(line) for line in Path(labels).read_text("utf-8").splitlines() if line.strip()]
    predicted = {}
    for path in sorted(p for p in Path(seeds).iterdir() if p.suffix.lower() in EXTENSIONS):
        a = read_article(path)
        for x in attribute(a) + captions(a):
            predicted[(a.id, x.text)] = x
    failures, kind_ok, speaker_ok = [], 0, 0
    for r in rows:
        x = predicted.get((r["article"], r["text"]))
        got = (x.kind, x.speaker) if x else ("missing", None)
        kind_ok += got[0] == r["kind"]
        speaker_ok += got[1] == r["speaker"]
        if got != (r["kind"], r["speaker"]):
            failures.append({**r, "got_kind": got[0], "got_speaker": got[1]})
    n = max(1, len(rows))
    return {"n": len(rows), "kind": kind_ok / n, "speaker": speaker_ok / n, "failures": failures}


def main() -> None:
    r = evaluate()
    print(f"{r['n']} labelled sentences: kind accuracy {r['kind']:.3f}, speaker accuracy {r['speaker']:.3f}")
    for f in r["failures"]:
        print(f"- [{f['article']}] {f['text'][:90]}\n    want {f['kind']}/{f['speaker']}, "
              f"got {f['got_kind']}/{f['got_speaker']}")


if __name__ == "__main__":
    main()
