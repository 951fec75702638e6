"""Who said it, and when: attribution rules against hand labels, relative dates, near duplicates."""

import json
from pathlib import Path

import pytest

from qa import parse_bytes, read_article
from qa.attribution import LABELS, attribute, captions, evaluate
from qa.dates import resolve_relative_dates
from qa.dedupe import near_duplicates

ROOT = Path(__file__).resolve().parent.parent
SEED_000 = ROOT / "seeds" / "000_54ba8922c5d040e6.txt"
SEED_003 = ROOT / "seeds" / "003_42d2fca0b8d62e31.txt"

# The floor the rules reach on tests/data/attribution_labels.jsonl (42 sentences);
# `python -m qa.attribution` prints the figures and every miss.
KIND_FLOOR = 0.95
SPEAKER_FLOOR = 0.95


def _find(attrs, fragment):
    hits = [a for a in attrs if fragment in a.text]
    assert len(hits) == 1, (fragment, [a.text for a in hits])
    return hits[0]


@pytest.fixture(scope="module")
def seed_000():
    a = read_article(SEED_000)
    return a, attribute(a)


def test_issue_examples(seed_000):
    _, attrs = seed_000
    ours = _find(attrs, "[O]ur country is not part of the U.S.-led international coalition")
    assert (ours.kind, ours.speaker) == ("quote", "Sergei Lavrov")
    assert ours.speaker_title == "Foreign Minister"
    regime = _find(attrs, "The regime declares itself the antidote")
    assert (regime.kind, regime.speaker) == ("quote", "Samantha Power")
    assert regime.speaker_title == "U.S. Ambassador to the U.N."


def test_one_attribution_per_sentence_with_verbatim_offsets(seed_000):
    article, attrs = seed_000
    assert attrs and [a.start for a in attrs] == sorted(a.start for a in attrs)
    for a in attrs:
        assert article.text[a.start:a.end] == a.text
        assert a.kind in ("quote", "paraphrase", "narration")
        assert a.text in article.paragraphs[a.paragraph]
        assert set(a.to_dict()) >= {"start", "end", "kind", "speaker", "speaker_title"}


def test_captions_are_kind_caption():
    article = read_article(SEED_003)
    caps = captions(article)
    assert [c.kind for c in caps] == ["caption"] and caps[0].text == article.captions[0]


def test_accuracy_on_labelled_seed_sentences():
    rows = [json.loads(x) for x in LABELS.read_text("utf-8").splitlines() if x.strip()]
    assert len(rows) >= 40
    r = evaluate()
    assert not [f for f in r["failures"] if f["got_kind"] == "missing"], "a label no longer matches a sentence"
    assert r["kind"] >= KIND_FLOOR, r["failures"]
    assert r["speaker"] >= SPEAKER_FLOOR, r["failures"]


# ------------------------------------------------ other styles than the seeds

GRAIN = """Ministers clash over grain deal

By Jane Doe | March 5, 2015

Agriculture Minister Maria Santos said Wednesday that the deal would collapse without new guarantees.

“We cannot sign a paper that our farmers will pay for,” she said. “Nobody in this government will do that.

“Not this year, not next year.”

Trade envoy Peter Holm disagreed.

“The guarantees are already in the text,” he said.

According to the minister, farmers stand to lose $2 billion a year.

Ms. Santos told reporters the talks would resume on Friday.

“We will see,” said Holm.

The talks are in their third month.
"""

STORM = """Storm cuts power to thousands

By Staff | January 12, 2016

Heavy snow cut power to 40,000 homes on Monday, the utility said.

Mayor Ann Lee said crews were working through the night.

Lee added: "Our priority is hospitals and care homes. Everything else comes second."

Officials said most homes would be reconnected by Wednesday.

"It was the heaviest snowfall in a decade," said meteorologist Tom Berg of the national weather service.

Residents were told to stay indoors.
"""

ECONOMY = """Two economists, two views

By Sam Roe | June 7, 2019

Economist Laura Chen says the slowdown is temporary.

Her colleague Mark Evans argues the opposite.

"Factories are closing," he said. "That is not temporary."

Prices rose 2% in May, according to Evans.

"The numbers will turn," she said.
"""

EXTRA = [
    (GRAIN, [
        ("paraphrase", "Maria Santos"), ("quote", "Maria Santos"), ("quote", "Maria Santos"),
        ("quote", "Maria Santos"), ("narration", None), ("quote", "Peter Holm"),
        ("paraphrase", "Maria Santos"), ("paraphrase", "Maria Santos"), ("quote", "Peter Holm"),
        ("narration", None)]),
    (STORM, [
        ("paraphrase", None), ("paraphrase", "Ann Lee"), ("quote", "Ann Lee"), ("quote", "Ann Lee"),
        ("paraphrase", None), ("quote", "Tom Berg"), ("narration", None)]),
    (ECONOMY, [
        ("paraphrase", "Laura Chen"), ("paraphrase", "Mark Evans"), ("quote", "Mark Evans"),
        ("quote", "Mark Evans"), ("paraphrase", "Mark Evans"), ("quote", "Laura Chen")]),
]


@pytest.mark.parametrize("text,want", EXTRA, ids=["grain", "storm", "economy"])
def test_other_attribution_styles(text, want):
    article = parse_bytes(text.encode(), "extra.txt")
    got = [(a.kind, a.speaker) for a in attribute(article)]
    assert got == want, [(a.text, a.kind, a.speaker) for a in attribute(article)]


# An archive that ran each story's paragraphs together (the BBC set): a quotation going on into
# what was a new paragraph opens again with no closing mark before it.
RUN_TOGETHER = """Real in talks over Gravesen move

Everton boss David Moyes has defiantly claimed that he expects Gravesen to stay. Moyes said: "I speak to Tommy \
regularly and we know where we are at. "There's been no contact. We don't want to lose him." Real Madrid \
general manager Arrigo Sacchi is the driving force behind the move. Gravesen has been outstanding this season.
"""


def test_a_quotation_that_opens_again_without_closing():
    got = [(a.kind, a.speaker) for a in attribute(parse_bytes(RUN_TOGETHER.encode(), "bbc.txt"))]
    assert got == [("paraphrase", "David Moyes"), ("quote", "David Moyes"), ("quote", "David Moyes"),
                   ("quote", "David Moyes"), ("narration", None), ("narration", None)], got


def test_kind_accuracy_on_labelled_bbc_sentences():
    # 90 sentences of paragraphs with straight quotation marks from the BBC archive (../shared),
    # half of them ones whose kind the facing rule changed, labelled by hand from the paragraph
    # alone (a helper session that did not see the system). Pairing the marks one after the
    # other got 44 right; pairing them by the way they face, 86.
    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "attribution_labels_bbc.jsonl")
            .read_text("utf-8").splitlines() if line.strip()]
    right = 0
    for r in rows:
        article = parse_bytes(f"{r['title']}\n\n{r['paragraph']}\n".encode(), "bbc.txt")
        right += [a.kind for a in attribute(article) if a.text == r["sentence"]] == [r["kind"]]
    assert len(rows) == 90 and right >= 84, right


BBC = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bbc-2005"


@pytest.mark.skipif(not BBC.is_dir(), reason="the BBC archive is not beside the repo")
def test_speakers_of_labelled_bbc_sentences():
    # 60 BBC sentences whose speaker the British-style rules (honorifics without a full stop,
    # "Mervyn King", "Manager David Moyes") changed, speakers labelled by hand from the whole
    # article (a helper session that did not see the system). Before: the full name 0 times
    # (by surname 35) and a wrong name 17 times; after: 40 (40) and 8.
    rows = [json.loads(line) for line in (Path(__file__).parent / "data" / "speaker_labels_bbc.jsonl")
            .read_text("utf-8").splitlines() if line.strip()]
    full = wrong = 0
    for r in rows:
        got = [a.speaker for a in attribute(read_article(BBC / r["article"])) if a.text == r["sentence"]]
        assert len(got) == 1, r["sentence"]
        want = None if r["speaker"] == "none" else r["speaker"]
        full += got[0] == want
        wrong += bool(got[0]) and (want is None or got[0].split()[-1] != want.split()[-1])
    assert len(rows) == 60 and full >= 38 and wrong <= 10, (full, wrong)


def test_british_style_names():
    text = ("T\n\nBy X | May 1, 2015\n\nPrime Minister Tony Blair said it was right. Mr Blair said so. "
            "Bank of England governor Mervyn King said rates would hold. \"We are watching,\" Mr King said. "
            "Manager David Moyes said the team was fine. Ms Jowell said she agreed. Dr Rowan Williams said it.\n")
    got = [(a.speaker, a.speaker_title) for a in attribute(parse_bytes(text.encode(), "uk.txt"))]
    assert got == [("Tony Blair", "Prime Minister"), ("Tony Blair", "Prime Minister"), ("Mervyn King", None),
                   ("Mervyn King", None), ("David Moyes", "Manager"), ("Ms Jowell", None), ("Rowan Williams", None)], got
    roles = ("T\n\nBy X | May 1, 2015\n\nStriker Nicolas Anelka said he was happy. The chairman of the Bar Council, "
             "Guy Mansfield QC said the risk was real. Midfielder Edu said the gap was small.\n")
    got = [a.speaker for a in attribute(parse_bytes(roles.encode(), "roles.txt"))]
    assert got == ["Nicolas Anelka", "Guy Mansfield", "Midfielder Edu"], got  # one name keeps its role


def test_straight_marks_pair_by_the_way_they_face():
    from qa.quotations import quotations
    text = 'He said "yes" and "no", on a 12" screen. "Fine," she said. "Open to the end'
    assert [text[s:e] for s, e in quotations(text)] == ['"yes"', '"no"', '"Fine,"', '"Open to the end']


def test_appositive_gives_speaker_and_title():
    text = ("T\n\nBy X | May 1, 2015\n\nSergei Lavrov, the foreign minister, said talks had failed.\n\n"
            "“There is no partner,” the minister said.\n")
    got = [(a.kind, a.speaker, a.speaker_title) for a in attribute(parse_bytes(text.encode(), "a.txt"))]
    assert got == [("paraphrase", "Sergei Lavrov", "foreign minister"),
                   ("quote", "Sergei Lavrov", "foreign minister")]


KNOWN_MISSES = {
    # Quotations in single quote marks are not tracked (apostrophes look the same).
    "single_quotes": ("General John Reed arrived late.\n\n'We will hold the line,' he said.",
                      ("quote", "John Reed")),
    # Gender comes only from honorifics and earlier he/she: "she" takes the latest speaker.
    "she_unknown_gender": ("Senator Kim Park said taxes would rise.\n\n"
                           "Governor Lee Adams said they would not.\n\n“That is a fantasy,” she said.",
                           ("quote", "Kim Park")),
}


@pytest.mark.xfail(strict=True, reason="known limits of the rules, listed in the module docstring")
@pytest.mark.parametrize("case", sorted(KNOWN_MISSES))
def test_known_misses(case):
    body, want = KNOWN_MISSES[case]
    article = parse_bytes(f"T\n\nBy X | May 1, 2015\n\n{body}\n".encode(), "m.txt")
    last = attribute(article)[-1]
    assert (last.kind, last.speaker) == want


def test_titles_come_from_the_full_mention():
    article = parse_bytes(GRAIN.encode(), "grain.txt")
    first, *_ = attribute(article)
    assert first.speaker_title == "Agriculture Minister"
    storm = attribute(parse_bytes(STORM.encode(), "storm.txt"))
    assert storm[2].speaker == "Ann Lee" and storm[2].speaker_title == "Mayor"


# ------------------------------------------------------------------- dates

def test_relative_dates_in_the_seeds():
    # 2014-08-26 is a Tuesday; 2014-10-22 a Wednesday.
    assert resolve_relative_dates("Sergei Lavrov on Monday urged Western governments",
                                  "2014-08-26") == [("on Monday", "2014-08-25")]
    got = resolve_relative_dates("Lavrov’s comments at Monday’s event in Moscow", "2014-10-22")
    assert got == [("Monday’s", "2014-10-20")]
    got = resolve_relative_dates("Power told the U.N. Security Council on Tuesday.", "2014-10-22")
    assert got == [("on Tuesday", "2014-10-21")]


@pytest.mark.parametrize("sentence,want", [
    ("He spoke on Tuesday.", [("on Tuesday", "2014-08-19")]),  # same weekday: a week back
    ("She left yesterday.", [("yesterday", "2014-08-25")]),
    ("Talks ended last week.", [("last week", "2014-08-18")]),  # the Monday starting that week
    ("Fighting grew this week.", [("this week", "2014-08-25")]),
    ("It happened two days ago.", [("two days ago", "2014-08-24")]),
    ("Ministers will meet on Friday.", [("on Friday", "2014-08-29")]),  # future tense looks ahead
    ("Prices fell last month.", [("last month", "2014-07-01")]),
    ("He was beheaded by a masked member of the group last week.", [("last week", "2014-08-18")]),
    ("Nothing relative here, on Sept. 11, 2001.", []),
])
def test_relative_dates(sentence, want):
    assert resolve_relative_dates(sentence, "2014-08-26") == want


def test_relative_dates_same_day_option_and_missing_date():
    assert resolve_relative_dates("He spoke on Tuesday.", "2014-08-26", same_day=True) == \
        [("on Tuesday", "2014-08-26")]
    assert resolve_relative_dates("He spoke on Tuesday.", None) == []


# --------------------------------------------------------- near duplicates

def test_near_duplicates_groups_wire_copy():
    texts = [
        "“The same thing is happening now,” he said.",
        '"The same thing is happening now," he said',
        "Russia has been Assad's most prominent international backer in the civil war.",
        "The same thing is happening now, Lavrov said on Monday in Moscow to reporters.",
        "Russia has been Assad’s most prominent international backer in the civil war",
    ]
    assert near_duplicates(texts) == [[0, 1], [2, 4], [3]]


def test_near_duplicates_edges():
    assert near_duplicates([]) == []
    assert near_duplicates(["a b c", "x y z"]) == [[0], [1]]
    assert near_duplicates(["Same text.", "same TEXT"]) == [[0, 1]]
    assert near_duplicates(["a b c d", "a b c e"], threshold=0.5) == [[0, 1]]
