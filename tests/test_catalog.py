"""Browsing the library (qa.catalog): counts, search by title/outlet/text, sorts, pages — checked
against a plain scan of every article, on the seeds and on a ~280-article slice of the BBC archive."""

import datetime

import pytest

from qa import catalog
from qa.bm25 import tokenize


@pytest.fixture(scope="module")
def bbc(bbc_slice_index_dir, bbc_slice_dir, embedder):
    from qa import Library
    return Library(index_dir=bbc_slice_index_dir, seeds_dir=bbc_slice_dir, embedder=embedder)


def _all(index, query="", sort="newest"):
    p = catalog.find(index, query, sort, size=10_000)
    return p, [r["id"] for r in p.rows]


def _scan(index, query: str) -> set[str]:
    """What a search should find, the slow way: a title/byline substring, or every query stem in
    one article's sentences."""
    q = " ".join(query.lower().split())
    terms = set(tokenize([query])[0])
    found = set()
    for e in index.entries:
        a = e.article
        head = " ".join(f"{a.title} {a.byline or ''}".lower().split())
        stems = set(tokenize([" ".join(a.units)])[0])
        if q in head or (terms and terms <= stems):
            found.add(a.id)
    return found


def test_counts_and_every_article_once(bbc):
    index = bbc.index
    p, ids = _all(index)
    assert p.articles == len(index.entries) == p.matches == len(ids) == len(set(ids))
    assert p.sentences == len(index)
    assert {r["id"]: r["sentences"] for r in p.rows} == index.sentence_counts()


@pytest.mark.parametrize("query", ["Yukos", "chelsea", "mobile phone", "oil prices", "Blair", "iPod",
                                   "profits rose", "zzzq nothing"])
def test_search_finds_what_a_scan_finds(bbc, query):
    _, ids = _all(bbc.index, query)
    assert set(ids) == _scan(bbc.index, query)


def test_search_by_outlet_and_text_on_the_seeds(seed_library):
    _, ids = _all(seed_library.index, "moscow times")
    assert [seed_library.get(i).byline for i in ids] == ["The Moscow Times"]
    _, ids = _all(seed_library.index, "paradoxical")  # only in the text
    assert [seed_library.get(i).title for i in ids] == [
        "Russian FM: We and the US Are Arming Opposing Sides in Syrian Conflict"]


def test_sorts(seed_library, bbc):
    for index in (seed_library.index, bbc.index):
        arts = {e.article.id: e.article for e in index.entries}
        _, newest = _all(index, sort="newest")
        dates = [arts[i].date for i in newest if arts[i].date]
        assert dates == sorted(dates, reverse=True)
        assert all(arts[i].date for i in newest[:len(dates)])  # undated last
        _, titles = _all(index, sort="title")
        assert [arts[i].title.casefold() for i in titles] == sorted(a.title.casefold() for a in arts.values())
        _, outlets = _all(index, sort="outlet")
        named = [arts[i].byline.casefold() for i in outlets if arts[i].byline]
        assert named == sorted(named)
    _, oldest = _all(seed_library.index, sort="oldest")
    assert [datetime.date.fromisoformat(seed_library.get(i).date) for i in oldest] == sorted(
        datetime.date.fromisoformat(seed_library.get(i).date) for i in oldest)


def test_best_match_puts_title_hits_first(bbc):
    mixed = 0
    for word in ("oil", "music", "film", "Yukos", "election", "phone"):
        _, ids = _all(bbc.index, word, sort="match")
        in_title = [word.lower() in bbc.get(i).title.lower() for i in ids]
        assert in_title == sorted(in_title, reverse=True)
        mixed += any(in_title) and not all(in_title)
    assert mixed  # the check above met both kinds of hit at least once


def test_pages_cover_the_list_and_clamp(bbc):
    _, every = _all(bbc.index)
    first = catalog.find(bbc.index, page=1, size=25)
    assert first.pages == -(-len(every) // 25) and len(first.rows) == 25
    pages = [catalog.find(bbc.index, page=n, size=25) for n in range(1, first.pages + 1)]
    assert [r["id"] for p in pages for r in p.rows] == every
    assert catalog.find(bbc.index, page=10_000).page == first.pages
    assert catalog.find(bbc.index, page=-3).page == 1


def test_bad_arguments_are_refused(seed_library):
    with pytest.raises(ValueError, match="sort must be one of"):
        catalog.find(seed_library.index, sort="random")
    with pytest.raises(ValueError, match="size"):
        catalog.find(seed_library.index, size=0)
    assert catalog.find(seed_library.index, "x" * 10_000).matches == 0  # cut to MAX_QUERY_CHARS, no error


def test_ties_are_broken_by_title():
    """Same date (or outlet): A-Z by title; undated (or no byline) last, also A-Z."""
    from types import SimpleNamespace

    import numpy as np

    from qa.articles import Article

    class Stand(SimpleNamespace):  # what find() reads of an index: articles, no sentences
        def __len__(self):
            return 0

        def column(self, j):
            return np.zeros(0, np.int32)

    rows = [("B", "2020-01-01", "X"), ("A", "2020-01-01", "X"), ("C", "2019-05-05", None), ("D", None, "X"),
            ("a2", None, None)]
    index = Stand(bm25_sent=None, entries=[
        SimpleNamespace(article=Article(id=f"i{i}", title=t, paragraphs=("x",), date=d, byline=b), origin="seed")
        for i, (t, d, b) in enumerate(rows)])
    titles = {s: [r["title"] for r in catalog.find(index, sort=s).rows] for s in catalog.SORTS}
    assert titles["newest"] == ["A", "B", "C", "a2", "D"]
    assert titles["oldest"] == ["C", "A", "B", "a2", "D"]
    assert titles["title"] == ["A", "a2", "B", "C", "D"]
    assert titles["outlet"] == ["A", "B", "D", "a2", "C"]
