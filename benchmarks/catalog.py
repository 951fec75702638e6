"""Browsing the Library tab at archive scale: qa.catalog over 10k, 100k and 1M articles.

    python benchmarks/catalog.py [--sizes 10k,100k] [--runs 50]     # 1M: --sizes 1M (8 min, 13 GB)

The web chat's Library tab asks `qa.catalog.find` for one page on every keystroke in its
search box and every sort or page change; this times that call where it matters, past the
BBC archive's 2,225 articles. Building real indexes of a million articles takes hours, so
each size is a stand-in with what `find` reads and nothing else: the articles (a title of
4-9 words, a byline out of 400 outlets, a date over 20 years, or none for one in ten),
~20 sentence rows each, and the sentence BM25 postings drawn from a Zipf vocabulary of
50,000 terms (how news words are spread), in the layout bm25s stores them.

Timed, p50 and p95 over `--runs` calls after one warm-up: the first page, newest first;
page 40 sorted by title; a search for a title word (matched in titles, bylines and text);
a two-word text search. The first call on a new index also builds the catalogue (lower-case
titles, sort orders): reported on its own as `first_ms`. Figures, never assertions.
Results: benchmarks/out/catalog.json and a markdown table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from qa import catalog  # noqa: E402
from qa.articles import Article  # noqa: E402
from qa.bm25 import tokenize  # noqa: E402

OUT = HERE / "out" / "catalog.json"
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
VOCAB = 50_000
SENTENCES_PER_ARTICLE = 20
WORDS_PER_SENTENCE = 9


class _Index(SimpleNamespace):
    """What catalog.find reads from a qa.index.Index."""

    def __len__(self):
        return len(self.sent_article)

    def column(self, j):
        assert j == 0
        return self.sent_article


def stand_in(n: int, seed: int = 0) -> _Index:
    rng = np.random.default_rng(seed)
    words = [f"w{i}x" for i in range(VOCAB)]  # stems as tokenize() leaves them
    zipf = 1.0 / np.arange(1, VOCAB + 1)
    zipf /= zipf.sum()
    title_words = rng.choice(VOCAB, size=(n, 9), p=zipf)
    lengths = rng.integers(4, 10, size=n)
    outlets = [f"Outlet {i} News" for i in range(400)]
    days = rng.integers(0, 20 * 365, size=n)
    start = np.datetime64("2005-01-01")
    entries = []
    for i in range(n):
        date = None if i % 10 == 0 else str(start + int(days[i]))
        title = " ".join(words[w] for w in title_words[i, :lengths[i]]).capitalize()
        entries.append(SimpleNamespace(article=Article(id=f"a{i}", title=title, paragraphs=("x",), date=date,
                                                       byline=outlets[i % 400]), origin="seed"))
    rows = n * SENTENCES_PER_ARTICLE
    sent_article = np.repeat(np.arange(n, dtype=np.int32), SENTENCES_PER_ARTICLE)
    terms = rng.choice(VOCAB, size=rows * WORDS_PER_SENTENCE, p=zipf).astype(np.int32)
    docs = np.repeat(np.arange(rows, dtype=np.int32), WORDS_PER_SENTENCE)
    key = np.unique(terms.astype(np.int64) * rows + docs)  # one posting per (term, sentence), sorted by term
    del terms, docs
    t, d = key // rows, (key % rows).astype(np.int32)
    indptr = np.zeros(VOCAB + 1, dtype=np.int64)
    np.cumsum(np.bincount(t, minlength=VOCAB), out=indptr[1:])
    bm = SimpleNamespace(vocab_dict={w: i for i, w in enumerate(words)},
                         scores={"indptr": indptr, "indices": d, "num_docs": rows})
    return _Index(entries=entries, sent_article=sent_article, bm25_sent=bm)


def timed(fn, runs: int) -> dict:
    fn()
    xs = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        xs.append(1000 * (time.perf_counter() - t))
    return {"p50_ms": round(float(np.percentile(xs, 50)), 2), "p95_ms": round(float(np.percentile(xs, 95)), 2)}


def measure(n: int, runs: int) -> dict:
    t = time.perf_counter()
    index = stand_in(n)
    made_s = time.perf_counter() - t
    title_word = index.entries[7].article.title.split()[-1]
    common = index.entries[3].article.title.split()[:2]  # frequent words, each in many sentences
    assert tokenize([" ".join(common)])[0], "stand-in words must survive tokenize"
    t = time.perf_counter()
    first = catalog.find(index)
    out = {"articles": n, "sentences": len(index), "stand_in_s": round(made_s, 1),
           "first_ms": round(1000 * (time.perf_counter() - t), 1),
           "matches_title_word": catalog.find(index, title_word).matches,
           "matches_two_words": catalog.find(index, " ".join(common)).matches}
    assert first.matches == n
    for name, call in {"page_1_newest": lambda: catalog.find(index),
                       "page_40_by_title": lambda: catalog.find(index, sort="title", page=40),
                       "search_title_word": lambda: catalog.find(index, title_word),
                       "search_two_words": lambda: catalog.find(index, " ".join(common))}.items():
        out[name] = timed(call, runs)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10k,100k", help="of 10k,100k,1M (1M: ~8 min and 13 GB for the stand-in)")
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args(argv)
    res = {}
    for name in args.sizes.split(","):
        res[name] = measure(SIZES[name], args.runs)
        print(name, json.dumps(res[name]), flush=True)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=1))
    print("\n| articles | first call (builds the catalogue) | page 1, newest | page 40, by title "
          "| title word search (matches) | two-word text search (matches) |")
    print("|---|---|---|---|---|---|")
    for name, r in res.items():
        print(f"| {r['articles']:,} | {r['first_ms']:.0f} ms | {r['page_1_newest']['p50_ms']} / "
              f"{r['page_1_newest']['p95_ms']} ms | {r['page_40_by_title']['p50_ms']} / {r['page_40_by_title']['p95_ms']} ms "
              f"| {r['search_title_word']['p50_ms']} / {r['search_title_word']['p95_ms']} ms ({r['matches_title_word']:,}) "
              f"| {r['search_two_words']['p50_ms']} / {r['search_two_words']['p95_ms']} ms ({r['matches_two_words']:,}) |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
