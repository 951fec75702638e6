"""The library's articles as a reader browses them: find by title, outlet/byline or text, sort, page.

`find(index, query, sort, page, size)` returns one `Page` of article rows and the counts a
reader sees ("2,225 articles, 41,696 sentences"; "37 match"). It stays fast at 100k articles
without a second index: titles and bylines are matched as lower-case substrings over a list
made once per index, and the body through the postings of the sentence BM25 index the index
already holds (an article matches when its sentences hold every word of the query, stemmed
as search stems them), so a search reads the postings of a few terms, never every article.

What is left out: rendering (the web chat), reading one article (`Library.get`), ranking
sentences for questions (`qa.search`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .bm25 import tokenize
from .search import _posting_list

SORTS = {"newest": "Newest first", "oldest": "Oldest first", "title": "Title A–Z",
         "outlet": "Outlet A–Z", "match": "Best match"}
PAGE_SIZE = 25
MAX_QUERY_CHARS = 200


@dataclass(frozen=True)
class Page:
    rows: list[dict]  # the page's articles: id, title, byline, date, url, origin, sentences
    matches: int  # articles that match the query (all of them without one)
    page: int  # 1-based, clamped to 1..pages
    pages: int
    articles: int  # in the library
    sentences: int  # in the library


class _Catalog:
    """What browsing needs, worked out once per index (an index is replaced, never changed)."""

    def __init__(self, index):
        self.index = index
        self.entries = index.entries
        n = len(self.entries)
        self.counts = (np.bincount(index.column(0), minlength=n) if len(index) else np.zeros(n, dtype=np.int64))
        self._heads: list[str] | None = None  # made at the first search, not for a plain listing
        self._orders: dict[str, np.ndarray] = {}

    def _rank(self, name: str, keys) -> np.ndarray:
        """Each article's place when sorted by `keys` (one per article), equal keys the same place
        (so a later sort key breaks their tie); made once per index."""
        if name not in self._orders:
            keys = list(keys)
            by = sorted(range(len(keys)), key=keys.__getitem__)
            new = np.fromiter((i == 0 or keys[by[i]] != keys[by[i - 1]] for i in range(len(by))),
                              dtype=bool, count=len(by))
            rank = np.empty(len(keys), dtype=np.int64)
            rank[by] = np.cumsum(new)
            self._orders[name] = rank
        return self._orders[name]

    def order(self, sort: str) -> np.ndarray:
        """Entry rows in `sort` order (ties by title, then by row: stable and total); undated
        articles last by date, articles without a byline last by outlet."""
        key = "order:" + sort
        if key not in self._orders:
            arts = [e.article for e in self.entries]
            title = self._rank("title", (a.title.casefold() for a in arts))
            if sort in ("newest", "oldest", "match"):
                date = self._rank("date", (a.date or "" for a in arts))
                undated = np.fromiter((not a.date for a in arts), dtype=bool, count=len(arts))
                rows = np.lexsort((title, date if sort == "oldest" else -date, undated))
            elif sort == "outlet":
                outlet = self._rank("outlet", ((a.byline or "").casefold() for a in arts))
                no_byline = np.fromiter((not a.byline for a in arts), dtype=bool, count=len(arts))
                rows = np.lexsort((title, outlet, no_byline))
            else:
                rows = np.argsort(title, kind="stable")
            self._orders[key] = rows.astype(np.int64)
        return self._orders[key]

    def body_matches(self, query: str) -> np.ndarray:
        """Entry rows whose sentences hold every (stemmed, non-stop) word of the query."""
        terms = sorted(set(tokenize([query])[0]))
        bm = self.index.bm25_sent
        if not terms or bm is None or not len(self.index):
            return np.zeros(0, dtype=np.int64)
        rows = None
        for t in terms:
            post = _posting_list(bm, t)
            if not len(post):
                return np.zeros(0, dtype=np.int64)
            found = np.unique(self.index.column(0)[np.asarray(post)])
            rows = found if rows is None else np.intersect1d(rows, found, assume_unique=True)
            if not len(rows):
                break
        return rows.astype(np.int64)

    def head_matches(self, query: str) -> np.ndarray:
        if self._heads is None:
            self._heads = [" ".join(f"{e.article.title} {e.article.byline or ''}".casefold().split())
                           for e in self.entries]
        q = " ".join(query.casefold().split())
        return np.asarray([i for i, h in enumerate(self._heads) if q in h], dtype=np.int64)


def _catalog(index) -> _Catalog:
    cat = index.__dict__.get("_catalog")
    if cat is None:
        cat = index.__dict__["_catalog"] = _Catalog(index)
    return cat


def find(index, query: str = "", sort: str = "newest", page: int = 1, size: int = PAGE_SIZE) -> Page:
    """One page of the library's articles matching `query` (title, outlet/byline or text; empty:
    all), in `sort` order (a key of SORTS; "match" puts title and byline matches first)."""
    if sort not in SORTS:
        raise ValueError(f"sort must be one of {', '.join(SORTS)}")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError("size must be a positive whole number")
    cat = _catalog(index)
    query = " ".join((query or "").split())[:MAX_QUERY_CHARS]
    order = cat.order(sort)
    if query:
        head = cat.head_matches(query)
        hit = np.union1d(head, cat.body_matches(query))
        order = order[np.isin(order, hit)]
        if sort == "match":  # title/byline hits first, each part in date order
            first = np.isin(order, head)
            order = np.concatenate([order[first], order[~first]])
    pages = max(1, math.ceil(len(order) / size))
    page = min(max(1, int(page or 1)), pages)
    rows = []
    for i in order[(page - 1) * size:page * size].tolist():
        e = cat.entries[i]
        rows.append({**e.article.to_dict(), "origin": e.origin, "sentences": int(cat.counts[i]),
                     "paragraphs": len(e.article.paragraphs)})
    return Page(rows, int(len(order)), page, pages, len(cat.entries), len(index))
