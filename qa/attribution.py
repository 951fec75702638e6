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

Relative dates are in `qa.dates`, near-duplicate grouping in `qa.dedupe`.
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
# roles that come before a name at the start of a sentence in sport, arts and politics copy ("Manager
# David Moyes said"); one that would leave a single name stays with it ("Midfielder Edu")
_ROLES = set(
    "Manager Coach Boss Skipper Editor Presenter Commissioner MP MEP MSP AM QC DJ Reverend Cardinal "
    "Under-Secretary Broadcaster Referee Agent Producer Actor Actress Novelist Film-maker Guitarist Rapper "
    "Comedian Designer Drummer Frontman Striker Winger Wing Fly-half Scrum-half Goalkeeper Goalscorer "
    "Defender Midfielder".split())
_TITLE_WORDS = set(
    "Minister Foreign Prime President Vice Secretary State Ambassador General Secretary-General Spokesman "
    "Spokeswoman Spokesperson Senator Sen. Rep. Representative Gov. Governor Chancellor King Queen Prince "
    "Defense Defence Deputy Chief Director Chairman Chairwoman Chair Mayor Judge Justice Commander Gen. "
    "Col. Lt. Dr. Mr. Mrs. Ms. Miss Envoy Special Interior Finance Pope Sheikh Emir Ayatollah Leader "
    "Supreme Adm. Admiral Colonel Lieutenant Captain Capt. Officer Executive Attorney Premier Press "
    "Speaker Majority Minority Home Professor Prof. Sir Lord Lady Rev. Bishop Archbishop Economist Analyst "
    "Researcher Lawyer Historian Author Activist Scientist Meteorologist "
    # British style writes honorifics without a full stop ("Mr Blair said")
    "Mr Mrs Ms Dr".split()) | _ROLES
_POST_NOMINALS = {"MP", "MEP", "MSP", "AM", "QC", "KC", "OBE", "MBE", "CBE"}
_SURNAME_TITLES = {"King", "Prince", "Singer", "Judge", "Bishop", "Speaker", "Chancellor", "Lord", "Major"}
_CONNECTORS = {"of", "to", "the", "for"}
_HONORIFIC = re.compile(r"(?:Mr|Mrs|Ms|Miss|Dr)\.?")
_PARTICLE = re.compile(r"^(?:al|el|bin|ibn|de|van|von|da|di|le|la)(?:-[A-Z][\w’'-]*)?$")
_STARTERS = set(
    "The A An In On At But And Meanwhile However Also Then Later Earlier Speaking Asked When While After "
    "Before Yet So Still Instead For This That Now Last Next Separately Elsewhere Moreover Indeed It "
    "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split())
_ROLE = r"(?:minister|ambassador|president|spokes(?:man|woman|person)|secretary|envoy|chancellor|senator|" \
        r"premier|leader|diplomat|general|governor|mayor|chief|director|official|prosecutor|judge)"
_ANON = re.compile(r"\b(?:officials?|diplomats?|sources?|analysts?|experts?|police|witnesses|residents|"
                   r"observers|critics|activists|spokes(?:man|woman|person)|statement|ministry|report)$|"
                   r"\b(?:the|a|an)\s+(?:[a-z-]+\s+){0,2}[a-z-]+$", re.I)
_ADVERBIAL = re.compile(
    r"(?:\s+(?:on|last|this|early|late|earlier|later)\s+(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|"
    r"Sunday|week|month|year|morning|night|evening|afternoon|day)|\s+(?:yesterday|today|also|again|then|"
    r"later|earlier|previously|once|has|have|had|would|will|could|did|further|[a-z]+ly)|\s+for\s+\w+)$")
_APPOSITIVE = re.compile(r",\s+((?:a|an|the|who|whose|which)\b[^,]{0,80}),$")
_QMARK = "“”\""


# ------------------------------------------------------------------ names

def _tokens(text: str) -> list[tuple[str, bool, bool]]:
    """(word, opens, cuts) per token, punctuation stripped: `opens` where a quote mark or
    bracket opens before it, `cuts` where a comma, closing mark, possessive or
    sentence-final full stop ends a name run after it."""
    out = []
    for raw in text.split():
        lead = raw[0] in "“\"‘(["
        w = raw.lstrip("“\"‘'([")
        core = w.rstrip("”\"’')],;:!?")
        cut = core != w
        if re.search(r"[’']s$", core):
            core, cut = core[:-2], True
        if core.endswith(".") and core not in _TITLE_WORDS and not re.fullmatch(r"(?:[A-Z]\.)+", core):
            core, cut = core[:-1], True
        if core:
            out.append((core, lead, cut))
    return out


def _is_name_word(w: str) -> bool:
    return (w[:1].isupper() and any(c.isalpha() for c in w)) or bool(_PARTICLE.match(w))


def _runs(text: str) -> list[list[str]]:
    """Capitalised runs ("U.S. Ambassador to the U.N. Samantha Power"), connectors inside only."""
    runs, cur = [], []
    for w, lead, cut in _tokens(text):
        if lead and cur:
            runs.append(cur)
            cur = []
        if _is_name_word(w) or (cur and w in _CONNECTORS):
            cur.append(w)
        else:
            if cur:
                runs.append(cur)
            cur = []
            continue
        if cut:
            runs.append(cur)
            cur = []
    if cur:
        runs.append(cur)
    out = []
    for r in runs:
        while r and (r[-1] in _CONNECTORS):
            r = r[:-1]
        while r and (r[0] in _STARTERS or r[0] in _CONNECTORS):
            r = r[1:]
        if r:
            out.append(r)
    return out


def _split_title(run: list[str]) -> tuple[str | None, str]:
    """["Russian", "Foreign", "Minister", "Sergei", "Lavrov"] -> ("Russian Foreign Minister", "Sergei Lavrov");
    ["Guy", "Mansfield", "QC"] -> ("QC", "Guy Mansfield")."""
    if len(run) >= 2 and run[-1] in _POST_NOMINALS:
        title, name = _split_title(run[:-1])
        return (f"{title} {run[-1]}" if title else run[-1]), name
    name: list[str] = []
    for w in reversed(run):
        # a few title words are surnames too, after a given name: "Mervyn King", "Bryan Singer"
        surname = not name and w in _SURNAME_TITLES and len(run) >= 2 and run[-2] not in _TITLE_WORDS \
            and run[-2] not in _CONNECTORS
        if (w in _TITLE_WORDS and not surname) or w in _CONNECTORS or len(name) == 4 or \
                ("." in w and not re.fullmatch(r"[A-Z]\.", w)):
            break
        name.insert(0, w)
    if len(name) == 1 and len(run) >= 2 and run[-2] in _ROLES:
        name.insert(0, run[-2])
    title = " ".join(run[:len(run) - len(name)]).strip() or None
    return title, " ".join(name)


class _People:
    """Full names and titles an article gives, so "Lavrov" and "he" become "Sergei Lavrov"."""

    def __init__(self, text: str):
        self.titles: dict[str, str | None] = {}
        self.by_surname: dict[str, str] = {}
        self.gender: dict[str, str] = {}
        self.speakers: list[str] = []  # persons who have spoken, most recent last
        for run in _runs(text):
            title, name = _split_title(run)
            if len(name.split()) >= 2:
                self._add(name, title)

    def _add(self, name: str, title: str | None) -> None:
        if title and _HONORIFIC.fullmatch(title):
            title = None  # an honorific says who, not what they are ("Dr Rowan Williams")
        if name not in self.titles or (title and not self.titles[name]):
            self.titles[name] = title
        last = name.split()[-1]
        for key in {last, re.sub(r"^(?:al|el)-", "", last)}:
            self.by_surname.setdefault(key, name)

    def name(self, run: list[str]) -> tuple[str | None, str | None]:
        title, name = _split_title(run)
        if not name:
            return (self.role(title) if title else None), None
        honorific = bool(title and _HONORIFIC.fullmatch(title))
        if len(name.split()) == 1:
            # "Mr Blair": the full name the article gave, else the honorific stays with the surname
            name = self.by_surname.get(name) or (f"{title} {name}" if honorific else name)
        if title and (g := re.match(r"(Mr|Mrs|Ms|Miss)\b", title)):
            self.gender.setdefault(name, "m" if g.group(1) == "Mr" else "f")
        if honorific:
            title = None  # the full mention's title stands ("Prime Minister")
        if title and len(name.split()) >= 2:
            self._add(name, title)
        return name, title or self.titles.get(name)

    def is_person(self, name: str | None) -> bool:
        return bool(name) and (len(name.split()) >= 2 or bool(self.titles.get(name)))

    def pronoun(self, word: str) -> str | None:
        if word not in ("he", "she"):
            return None  # "they", "we", "I" outside quotes: no single named speaker
        g, other = ("m", "f") if word == "he" else ("f", "m")
        for p in reversed(self.speakers):
            if self.gender.get(p) != other:
                self.gender.setdefault(p, g)
                return p
        return None

    def role(self, words: str) -> str | None:
        """"the minister" -> the most recent speaker whose title has that word, else the last speaker."""
        m = re.search(_ROLE, words, re.I)
        for p in reversed(self.speakers):
            if m and re.search(m.group(0), self.titles.get(p) or "", re.I):
                return p
        return self.speakers[-1] if self.speakers else None

    def spoke(self, name: str | None) -> None:
        if self.is_person(name):
            if name in self.speakers:
                self.speakers.remove(name)
            self.speakers.append(name)


# -------------------------------------------------------------- attribution

_NO = object()  # "no attribution here", as against an attribution to nobody in particular (None)


def _subject(before: str, people: _People):
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
    if m := re.search(rf"\b[Tt]he\s+((?:[\w.-]+\s+){{0,3}}{_ROLE})$", b, re.I):
        return people.role(m.group(1)), None
    if _ANON.search(b):
        return None, None
    if not b or b[-1] in ",;:–—-" or not _is_name_word(b.split()[-1]):
        return _NO, None
    runs = _runs(b)
    if not runs or _tokens(b)[-1][0] != runs[-1][-1]:
        return _NO, None
    name, title = people.name(runs[-1])
    if not title and appositive and appositive.group(1).startswith("the "):
        title = appositive.group(1)[4:]  # "Sergei Lavrov, the foreign minister, said"
        people.titles[name] = people.titles.get(name) or title
    return name, title


def _attribution(outside: str, people: _People):
    """(speaker, title) from the sentence's text outside quotation marks, or (_NO, None)."""
    for m in _VERB.finditer(outside):
        before, after = outside[:m.start()], outside[m.end():]
        if m.group(0).lower() == "according to" or (_SAY.fullmatch(m.group(0)) and re.search(r"(?:^|,)\s*$", before)):
            if r := re.match(rf"\s*the\s+((?:[\w.-]+\s+){{0,3}}?{_ROLE})\b", after, re.I):
                return people.role(r.group(1)), None
            runs = _runs(after)
            # a name may follow a lowercase descriptor or two: "said meteorologist Tom Berg"
            if runs and re.match(rf"\s*(?:[a-z-]+\s+){{0,2}}{re.escape(runs[0][0])}\b", after):
                return people.name(runs[0])
            if m.group(0).lower() == "according to":
                return None, None
        who = _subject(before, people)  # "Lavrov, the foreign minister, said": no name after it
        if who[0] is not _NO:
            return who
    return _NO, None


def _narration_subject(outside: str, people: _People) -> str | None:
    """The person a narration sentence is about ("Trade envoy Peter Holm disagreed."),
    so that a following "he said" can reach them: the first person named in its
    first six words with a lowercase word after the name (so not "Assad's backer")."""
    toks = _tokens(outside)
    for i, (w, _, cut) in enumerate(toks[:6]):
        if _is_name_word(w) and not cut and i + 1 < len(toks) and re.fullmatch(r"[a-z]+", toks[i + 1][0]):
            run = next((r for r in _runs(" ".join(t[0] for t in toks[:i + 1])) if r[-1] == w), None)
            name = people.name(run)[0] if run else None
            if people.is_person(name):
                return name
    return None


def attribute(article: Article, spans: list[list[tuple[int, int]]] | None = None) -> list[Attribution]:
    """One Attribution per body sentence, in reading order.

    `spans`: the sentence spans of each paragraph when the caller has split them already
    (the index has); otherwise `qa.sentences.split` is run here."""
    people = _People(article.text)
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
