"""BM25 for the index: tokens, term counts, and bm25s scores computed from them.

bm25s cannot add documents to an index. So the index keeps, beside each bm25s
index, how often each term occurs in each document (`TermCounts`), and makes
the bm25s scores from those counts: adding or removing articles tokenizes only
new text, and the scores are the ones a full rebuild gives (same idf, same
average document length), not a main-plus-delta approximation.

What is left out: which texts are documents (`qa.index`), scoring questions
(`bm25s`, `qa.search`).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

_local = threading.local()  # a Snowball stemmer per thread: PyStemmer's objects are not thread-safe
_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_stop: frozenset | None = None


def tokenize(texts: list[str]) -> list[list[str]]:
    """BM25 tokens: lower case, English stop words out, Snowball stems.

    The same tokens as `bm25s.tokenize(texts, stopwords="en", stemmer=...)`, without its
    per-call progress-bar objects, which cost milliseconds on every question."""
    global _stop
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer
        from bm25s.stopwords import STOPWORDS_EN
        stemmer = _local.stemmer = Stemmer.Stemmer("english")
        _stop = frozenset(STOPWORDS_EN)
    stem = stemmer.stemWords
    return [stem([w for w in _TOKEN.findall(t.lower()) if w not in _stop]) for t in texts]


@dataclass(frozen=True)
class CollectionStats:
    """BM25's whole-collection figures: documents, their mean length, document frequencies."""
    n: int
    avgdl: float
    df: np.ndarray


class TermCounts:
    """How often each term occurs in each document: a CSR matrix (a row per document) with its
    vocabulary. BM25 is computed from it, and kept beside the BM25 files, so that adding
    articles tokenizes only their text and merges rows instead of re-reading every sentence."""

    def __init__(self, vocab: dict[str, int], indptr: np.ndarray, terms: np.ndarray, counts: np.ndarray):
        self.vocab, self.indptr, self.terms, self.counts = vocab, indptr, terms, counts

    def __len__(self) -> int:
        return len(self.indptr) - 1

    @classmethod
    def of(cls, token_lists: list[list[str]], vocab: dict[str, int] | None = None) -> "TermCounts":
        """Counts of `token_lists`, new terms appended to `vocab` (which is changed in place).
        An empty document counts as one empty-string token, as it did through bm25s.index."""
        vocab = {} if vocab is None else vocab
        ids, lens = [], []
        for toks in token_lists:
            toks = toks or [""]
            ids.extend(vocab.setdefault(t, len(vocab)) for t in toks)
            lens.append(len(toks))
        n, v = len(lens), max(1, len(vocab))
        key = np.repeat(np.arange(n, dtype=np.int64), lens) * v + np.asarray(ids, dtype=np.int64)
        key, counts = np.unique(key, return_counts=True)  # sorted: by document, then term
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(key // v, minlength=n), out=indptr[1:])
        return cls(vocab, indptr, (key % v).astype(np.int32), counts.astype(np.int32))

    def take(self, rows: np.ndarray) -> "TermCounts":
        """The documents at `rows`, in that order (the vocabulary is shared)."""
        rows = np.asarray(rows, dtype=np.int64)
        lo, hi = self.indptr[rows], self.indptr[rows + 1]
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(hi - lo, out=indptr[1:])
        at = np.repeat(lo - indptr[:-1], hi - lo) + np.arange(indptr[-1], dtype=np.int64)
        return TermCounts(self.vocab, indptr, np.asarray(self.terms[at]), np.asarray(self.counts[at]))

    def append(self, other: "TermCounts") -> "TermCounts":
        """These documents followed by `other`'s, whose vocabulary extends this one."""
        return TermCounts(other.vocab, np.concatenate([self.indptr, other.indptr[1:] + self.indptr[-1]]),
                          np.concatenate([self.terms, other.terms]), np.concatenate([self.counts, other.counts]))

    def _doc_of_entry(self) -> np.ndarray:
        """The document of each (document, term) entry."""
        return np.repeat(np.arange(len(self), dtype=np.int32), np.diff(self.indptr))

    def lengths(self, doc: np.ndarray | None = None) -> np.ndarray:
        """Each document's length in tokens (float64, as BM25 uses it); `doc`: `_doc_of_entry()`."""
        doc = self._doc_of_entry() if doc is None else doc
        return np.bincount(doc, weights=self.counts, minlength=len(self))

    def words(self) -> np.ndarray:
        """The vocabulary as an array of terms by id."""
        words = np.empty(len(self.vocab), dtype=object)
        for t, i in self.vocab.items():
            words[i] = t
        return words

    def stats(self) -> "CollectionStats":
        """What BM25 takes from the whole collection: document count, mean length, each term's
        document frequency (by this vocabulary's ids)."""
        dl = self.lengths()
        return CollectionStats(len(self), float(dl.mean()) if len(dl) else 0.0,
                               np.bincount(self.terms, minlength=len(self.vocab)))

    def compact(self, df: np.ndarray, words: np.ndarray | None = None) -> tuple["TermCounts", np.ndarray]:
        """These documents over a vocabulary of only the terms they hold (a shard of a large
        collection need not carry every term of it), with `df` (by the old ids) in the new ids.
        `words`: `self.words()`, made once when many parts of one collection are compacted."""
        used = np.unique(np.asarray(self.terms))
        words = self.words() if words is None else words
        vocab = {str(t): i for i, t in enumerate(words[used])}
        terms = np.searchsorted(used, np.asarray(self.terms)).astype(np.int32)
        return TermCounts(vocab, np.asarray(self.indptr), terms, np.asarray(self.counts)), df[used]

    def bm25(self, stats: "CollectionStats | None" = None):
        """A bm25s.BM25 with the scores `bm25s.BM25().index()` gives for the same tokens: its
        default Lucene variant, idf = log(1 + (N - df + 0.5) / (df + 0.5)) (rounded to float32
        as bm25s does) times tf / (tf + k1 (1 - b + b dl / avgdl)); checked in tests/test_scale.py.

        `stats`: N, avgdl and df of a larger collection these documents are part of (a shard,
        `qa.shards`): its scores are then the ones the whole collection's index gives them."""
        import bm25s
        bm = bm25s.BM25()
        if not len(self):  # bm25s cannot index nothing: one empty document, as before
            return TermCounts.of([[""]]).bm25()
        n, v = len(self), len(self.vocab)
        doc = self._doc_of_entry()
        dl = self.lengths(doc)
        df = np.bincount(self.terms, minlength=v)
        all_n, avgdl, all_df = (n, dl.mean(), df) if stats is None else (stats.n, stats.avgdl, stats.df)
        idf = np.log(1 + (all_n - all_df + 0.5) / (all_df + 0.5)).astype(np.float32).astype(np.float64)
        tf = self.counts.astype(np.float64)
        score = idf[self.terms] * (tf / (bm.k1 * ((1 - bm.b) + bm.b * dl[doc] / avgdl) + tf))
        order = np.argsort(self.terms, kind="stable")  # by term, documents in order within a term
        indptr = np.zeros(v + 1, dtype=np.int64)
        np.cumsum(df, out=indptr[1:])
        bm.scores = {"data": score[order].astype(np.float32), "indices": doc[order], "indptr": indptr,
                     "num_docs": n}
        bm.vocab_dict = dict(self.vocab)
        bm.unique_token_ids_set = set(bm.vocab_dict.values())
        bm.nonoccurrence_array = None  # the Lucene variant has none
        bm._qa_counts = self
        return bm

    _FILES = ("counts_indptr.npy", "counts_terms.npy", "counts.npy")

    def save(self, path: Path) -> None:
        for name, a in zip(self._FILES, (self.indptr, self.terms, self.counts)):
            np.save(path / name, a)

    @classmethod
    def load(cls, path: Path, vocab: dict[str, int]) -> "TermCounts | None":
        """The counts stored beside a BM25 directory; None for generations written before them."""
        if not all((path / f).exists() for f in cls._FILES):
            return None
        indptr, terms, counts = (np.load(path / f, mmap_mode="r") for f in cls._FILES)
        return cls(dict(vocab), indptr, terms, counts)


def bm25(old_bm, src: np.ndarray | None, texts_of: Callable[[np.ndarray], list[str]], n: int):
    """BM25 over `n` documents. `src[i]` is the row of document i in `old_bm`'s documents, or -1
    for a new one: then only the new documents are tokenized and the stored term counts of the
    others are reused. The result is the index a full rebuild makes (same idf, same avgdl)."""
    old = getattr(old_bm, "_qa_counts", None) if src is not None else None
    if old is None:
        return TermCounts.of(tokenize(texts_of(np.arange(n)))).bm25()
    new = np.flatnonzero(src < 0)
    fresh = TermCounts.of(tokenize(texts_of(new)), vocab=dict(old.vocab))
    take = np.where(src >= 0, src, len(old) + np.cumsum(src < 0) - 1)
    return old.append(fresh).take(take).bm25()
