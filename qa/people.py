"""People named in an article: capitalised runs of words, a run split into title and name, and
the article's cast (`People`), so that "Lavrov", "he" and "the minister" become "Sergei Lavrov".

Rules, no model: a run is capitalised words with "of", "to", "the", "for" inside ("U.S.
Ambassador to the U.N. Samantha Power"); the title is the run's words up to the last title word
("Russian Foreign Minister"), the name the rest, at most four words; British copy writes
honorifics without a full stop ("Mr Blair"), a few title words are surnames too ("Mervyn King"),
a role before a name at the start of a sentence is not part of it ("Striker Nicolas Anelka"),
nor a post-nominal ("Guy Mansfield QC").

What is left out: who said each sentence (`qa.attribution`), quotation marks (`qa.quotations`).
"""

from __future__ import annotations

import re

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
ROLE = r"(?:minister|ambassador|president|spokes(?:man|woman|person)|secretary|envoy|chancellor|senator|" \
        r"premier|leader|diplomat|general|governor|mayor|chief|director|official|prosecutor|judge)"


def tokens(text: str) -> list[tuple[str, bool, bool]]:
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


def is_name_word(w: str) -> bool:
    return (w[:1].isupper() and any(c.isalpha() for c in w)) or bool(_PARTICLE.match(w))


def name_runs(text: str) -> list[list[str]]:
    """Capitalised runs ("U.S. Ambassador to the U.N. Samantha Power"), connectors inside only."""
    runs, cur = [], []
    for w, lead, cut in tokens(text):
        if lead and cur:
            runs.append(cur)
            cur = []
        if is_name_word(w) or (cur and w in _CONNECTORS):
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


class People:
    """Full names and titles an article gives, so "Lavrov" and "he" become "Sergei Lavrov"."""

    def __init__(self, text: str):
        self.titles: dict[str, str | None] = {}
        self.by_surname: dict[str, str] = {}
        self.gender: dict[str, str] = {}
        self.speakers: list[str] = []  # persons who have spoken, most recent last
        for run in name_runs(text):
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
        m = re.search(ROLE, words, re.I)
        for p in reversed(self.speakers):
            if m and re.search(m.group(0), self.titles.get(p) or "", re.I):
                return p
        return self.speakers[-1] if self.speakers else None

    def spoke(self, name: str | None) -> None:
        if self.is_person(name):
            if name in self.speakers:
                self.speakers.remove(name)
            self.speakers.append(name)
