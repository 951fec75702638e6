"""Article parsing: both seed layouts exactly, plain files, HTML, boilerplate and captions."""

import random

import pytest

from qa import ArticleError, parse_bytes, read_article
from qa import sentences

from conftest import SEEDS

CNS = SEEDS / "000_54ba8922c5d040e6.txt"
MT = SEEDS / "003_42d2fca0b8d62e31.txt"


def test_plain_text_seed_with_byline_bar():
    a = read_article(CNS)
    assert a.id == "000_54ba8922c5d040e6"
    assert a.title == "Russian FM: We and the US Are Arming Opposing Sides in Syrian Conflict"
    assert a.byline == "Patrick Goodenough"
    assert a.date == "2014-10-22"
    assert a.url is None
    assert a.paragraphs[0].startswith("Russia is not a member of the U.S.-led anti-ISIS coalition")
    assert a.paragraphs[-1].endswith("every bit as grotesque.”")
    assert len(a.paragraphs) == 19


def test_markdown_seed_with_link_byline_and_original_url():
    a = read_article(MT)
    assert a.title == "Lavrov – U.S. Should Back Syria's Assad in Fighting Islamic State"
    assert a.byline == "The Moscow Times"
    assert a.date == "2014-08-26"
    assert a.url == ("https://www.themoscowtimes.com/2014/08/26/"
                     "lavrov-us-should-back-syrias-assad-in-fighting-islamic-state-a38716")
    assert a.paragraphs[0].startswith("Russian Foreign Minister Sergei Lavrov on Monday urged")
    assert a.paragraphs[-1].startswith("The Americans and Europeans were now starting to acknowledge")
    assert len(a.paragraphs) == 14


@pytest.mark.parametrize("path", [CNS, MT])
def test_captions_and_boilerplate_are_not_body(path):
    a = read_article(path)
    assert len(a.captions) == 1
    body = "\n\n".join(a.paragraphs)
    assert a.text == body + "\n\n" + a.captions[0]  # captions follow the body in `text`
    for junk in ("MRC Store", "See also", "Original url", "AP Photo", "holds up a sign",
                 "themoscowtimes.com", "](", "[The Moscow Times]", "**", "By Patrick", "( –"):
        assert junk not in body
    assert a.captions[0] not in body


def test_caption_detected_by_photo_credit_and_by_scene_description():
    assert "(AP Photo/Brendan Smialowski, Pool)" in read_article(CNS).captions[0]
    assert read_article(MT).captions[0].startswith("A man holds up a sign in memory of U.S. journalist")


def test_plain_file_title_line_and_blank_line_paragraphs():
    text = b"A Plain Title\n\nFirst paragraph. It has two sentences.\n\nSecond paragraph here.\n"
    a = parse_bytes(text, "plain one.txt")
    assert a.id == "plain-one"
    assert a.title == "A Plain Title"
    assert a.paragraphs == ("First paragraph. It has two sentences.", "Second paragraph here.")
    assert a.byline is None and a.date is None and a.url is None


def test_title_directly_above_text_and_hard_wrapped_lines():
    text = b"Title Right Above\nThe body starts here and\nwraps onto a second line.\n\nMore.\n"
    a = parse_bytes(text, "x.txt")
    assert a.title == "Title Right Above"
    assert a.paragraphs[0] == "The body starts here and wraps onto a second line."


def test_markdown_inline_links_and_emphasis_become_text():
    md = b"# Title\n\nBy [Jane Roe](https://example.com/jane) | 3 March 2020\n\n" \
         b"The **minister** said [the plan](https://example.com) was *dead*.\n"
    a = parse_bytes(md, "m.md")
    assert (a.title, a.byline, a.date) == ("Title", "Jane Roe", "2020-03-03")
    assert a.paragraphs == ("The minister said the plan was dead.",)


def test_html_through_trafilatura():
    html = b"""<html><head><title>Talks Stall in Geneva</title>
    <meta name="author" content="Ann Writer"><meta property="article:published_time" content="2019-05-04">
    <link rel="canonical" href="https://news.example.com/geneva"></head><body>
    <nav>Home | World | Sport</nav><article><h1>Talks Stall in Geneva</h1>
    <p>Negotiators left Geneva on Friday without an agreement on the ceasefire, officials said.</p>
    <p>The next round is expected in June, according to the mediators who spoke to reporters.</p>
    <script>alert(1)</script></article><footer>Copyright 2019</footer></body></html>"""
    a = parse_bytes(html, "geneva.html")
    assert a.title == "Talks Stall in Geneva"
    assert a.byline == "Ann Writer"
    assert a.date == "2019-05-04"
    assert a.url == "https://news.example.com/geneva"
    assert any("without an agreement" in p for p in a.paragraphs)
    assert "alert(1)" not in a.text and "Home | World" not in a.text


@pytest.mark.parametrize("data,name,why", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)), "pic.txt", "binary"),
    (b"%PDF-1.4 stuff", "doc.txt", "binary"),
    (b"", "empty.txt", "no article text"),
    (b"Only A Title\n", "t.txt", "no article text"),
    (b"hello", "x.exe", "unsupported"),
])
def test_bad_files_get_a_clear_message(data, name, why):
    with pytest.raises(ArticleError, match=why):
        parse_bytes(data, name)


def test_other_encodings():
    text = "Café Title\n\nThe café’s owner said “non”.\n"
    for enc in ("utf-16", "cp1252", "utf-8-sig"):
        a = parse_bytes(text.encode(enc), "c.txt")
        assert a.title == "Café Title"
        assert a.paragraphs == ("The café’s owner said “non”.",)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_reads_as_the_utf8_original(encoding):
    want = read_article(MT)
    got = parse_bytes(MT.read_text("utf-8").encode(encoding), MT.name)
    assert (got.title, got.byline, got.date, got.url) == (want.title, want.byline, want.date, want.url)
    assert got.paragraphs == want.paragraphs and got.captions == want.captions


@pytest.mark.parametrize("text,encoding", [
    ("Café Owner Speaks\n\nThe café’s owner said the crème brûlée costs €5 – a “fair” price.\n", "cp1252"),
    ("Élection à Genève\n\nLe député a déclaré que la réforme était « nécessaire », selon l’agence.\n"
     .replace("’", "'"), "latin-1"),
    ("Schnee in München\n\nIn München fiel der erste Schnee; die Straßen waren glatt, sagte der Dienst.\n", "latin-1"),
    ("Погода в Москве\n\nВ Москве выпал первый снег, сообщили синоптики. Температура опустилась ниже нуля.\n",
     "koi8-r"),
    ("Погода в Москве\n\nВ Москве выпал первый снег, сообщили синоптики. Температура опустилась ниже нуля.\n",
     "cp1251"),
    # (the paragraph is over 100 characters: a shorter last one without Western punctuation is dropped as
    # boilerplate by _is_boilerplate_tail, in UTF-8 as well)
    ("東京で初雪\n\n気象庁によると、東京都心で今シーズン初めての雪が観測された。平年より十日早く、昨年より二十日早い"
     "という。都内の交通機関に大きな乱れはなかったが、気象庁は今夜から明日の朝にかけて路面の凍結に注意するよう呼びかけている。\n",
     "shift_jis"),
], ids=["cp1252", "latin-1-fr", "latin-1-de", "koi8-r", "cp1251", "shift_jis"])
def test_legacy_encodings_are_detected(text, encoding):
    a = parse_bytes(text.encode(encoding), "story.txt")
    title, body = text.strip().split("\n\n")
    assert a.title == title and a.paragraphs == (body,)


def test_valid_utf8_is_decoded_without_the_detector(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "charset_normalizer", None)  # importing it would fail
    assert parse_bytes("Café\n\nThe café’s owner said “non”.\n".encode(), "c.txt").title == "Café"


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    random.Random(7).randbytes(4096),
    random.Random(7).randbytes(4096).replace(b"\x00", b"\x01"),  # no NUL: it goes to the detector
    b"".join(i.to_bytes(4, "little") for i in range(1000)),  # int32 array: NULs on both sides of every pair
    bytes(2000),
], ids=["png", "random", "random-no-nul", "int32", "zeros"])
def test_binary_is_still_refused(data):
    with pytest.raises(ArticleError, match="binary file"):
        parse_bytes(data, "b.txt")


def test_ids_are_safe_file_names():
    a = parse_bytes(b"T\n\nBody text here.", "../../etc/pass wd.txt")
    assert a.id == "pass-wd"


# ---------------------------------------------------------------- sentences

@pytest.mark.parametrize("text,expected", [
    ("Russia is not in the U.S.-led coalition, Lavrov said. He spoke in Moscow.",
     ["Russia is not in the U.S.-led coalition, Lavrov said.", "He spoke in Moscow."]),
    ("The U.N. Security Council met. It adjourned.", ["The U.N. Security Council met.", "It adjourned."]),
    ("Al-Qaida struck on Sept. 11, 2001, he said. Nobody forgot.",
     ["Al-Qaida struck on Sept. 11, 2001, he said.", "Nobody forgot."]),
    ("“We agree with the (U.N.) Secretary-General [Ban Ki-moon] on this,” Power said. She left.",
     ["“We agree with the (U.N.) Secretary-General [Ban Ki-moon] on this,” Power said.", "She left."]),
    ("“He told me ‘never again’ and left. Then he came back,” she said.",
     ["“He told me ‘never again’ and left.", "Then he came back,” she said."]),
    ("“[O]ur country is not part of the U.S.-led international coalition,” he said.",
     ["“[O]ur country is not part of the U.S.-led international coalition,” he said."]),
    ("( – Russia is not a member. He said so.", ["Russia is not a member.", "He said so."]),
])
def test_splitter_on_tricky_sentences(text, expected):
    assert [text[s:e] for s, e in sentences.split(text)] == expected


@pytest.mark.parametrize("path", [CNS, MT])
def test_sentence_spans_are_verbatim(path):
    a = read_article(path)
    for k, p in enumerate(a.paragraphs):
        for s, e in sentences.split(p):
            base = a.paragraph_start(k)
            assert a.text[base + s:base + e] == p[s:e]
            assert p[s:e] == p[s:e].strip() and p[s:e]


def test_a_lead_that_opens_with_by_is_not_a_byline(tmp_path):
    f = tmp_path / "net.txt"
    f.write_text("Millions to miss out on the net\n\nBy 2025, 40% of the UK's population will still be "
                 "without internet access at home, says a study.\n\nAround 23 million Britons will miss out.\n",
                 "utf-8")
    a = read_article(f)
    assert a.byline is None
    assert a.paragraphs[0].startswith("By 2025, 40% of the UK's population")
    g = tmp_path / "morris.txt"
    g.write_text("Profile\n\nBy any measure, Dick Morris is a winner.\n\nHe advised presidents.\n", "utf-8")
    assert read_article(g).paragraphs[0] == "By any measure, Dick Morris is a winner."
    h = tmp_path / "wire.txt"
    h.write_text("Storm hits coast\n\nBy the Associated Press | March 3, 2020\n\nThe storm hit.\n", "utf-8")
    wire = read_article(h)
    assert (wire.byline, wire.date) == ("the Associated Press", "2020-03-03")
