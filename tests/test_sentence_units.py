"""Sentence units over a real archive: no fragment, and no unit that starts inside a sentence.

Runs over every paragraph of the 2,225 BBC articles in ../shared/corpora/bbc-2005 (skipped
where that folder is absent). A paragraph that itself starts in lower case (the archive lost
a name there) may; no later unit of it may.
"""

import re
from pathlib import Path

import pytest

from qa import sentences
from qa.articles import read_article

BBC = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bbc-2005"


def _fragments(paragraph: str) -> list[str]:
    bad = []
    spans = sentences.split(paragraph)
    for i, (s, e) in enumerate(spans):
        unit = paragraph[s:e]
        if re.fullmatch(r"\W*\w*\s+\.", unit):  # "The ." left by a domain name
            bad.append(unit)
        elif i and re.match(r"[a-z,;:.]", unit):  # starts inside the sentence before it
            bad.append(unit)
        elif i and re.search(r"[\"”’]$", paragraph[spans[i - 1][0]:spans[i - 1][1]]) and re.fullmatch(r"(?:he|she|they|it|[A-Z][\w'’.-]*(?: [A-Z][\w'’-]*){0,3}) "
                                r"(?:said|says|added|asked)\.", unit):  # a quotation's speaker cut off
            bad.append(unit)
    return bad


def test_known_fragments_are_whole_sentences():
    cases = {
        "The .post and .travel net domains have been given preliminary approval. The names are two.": 2,
        '"I don\'t know what happened." he said. "It was just a shame."': 2,
        '"Where\'s the fun in that?" said Ulrich Schulte, secretary general. "Our industry is fine."': 2,
        '"Is it over?" Mr Lewis asked. The report is published today.': 2,
        "He said: \"What matters most is...whether it is reformed.\" Shares fell.": 2,
        "Comedy Are We There Yet?, slipped to second place with $17m. Coach Carter fell.": 2,
        "eBay said profits rose. The U.S. grew 3% after Sept. 11 in 2001.": 2,
    }
    for text, n in cases.items():
        units = [text[s:e] for s, e in sentences.split(text)]
        assert len(units) == n, units
        assert not _fragments(text)


def test_a_paragraph_broken_after_a_name_is_joined(tmp_path):
    f = tmp_path / "a.txt"
    f.write_text("Title\n\nThe race was won by Ethiopia's\n\nfailed in her bid to break the record.\n\n"
                 "Next paragraph.\n", "utf-8")
    a = read_article(f)
    assert a.paragraphs == ("The race was won by Ethiopia's failed in her bid to break the record.",
                            "Next paragraph.")


@pytest.mark.skipif(not BBC.is_dir(), reason="the BBC archive is not beside the repo")
def test_no_fragments_in_the_bbc_archive():
    units, bad = 0, []
    for f in sorted(BBC.glob("*.txt")):
        for p in read_article(f).units:
            units += len(sentences.split(p))
            bad += [(f.name, u) for u in _fragments(p)]
    assert units > 40_000
    assert not bad, f"{len(bad)} fragments of {units} units, e.g. {bad[:10]}"
