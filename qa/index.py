"""The searchable index: sentences and paragraphs of every article, their
embeddings in FAISS, and BM25 over the same units.

`build` turns a list of articles into an `Index`, re-using the rows and vectors
of every article whose fingerprint has not changed, so only new or changed
articles are embedded.

What is left out: writing a generation's files and reading them back
(`qa.index_files`); the per-article work of a build, splitting, attribution and
embedding, and where it runs (`qa.pipeline`, `qa.ray_build`); ranking (`qa.search`),
the manifest and atomic writes (`qa.store`), which FAISS index serves the vectors
(`qa.vectors`), BM25 from term counts (`qa.bm25`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import vectors
from .bm25 import bm25 as _bm25
from .articles import Article
from .hubness import REFRESH_MAX, hubness
from .pipeline import ATTRIBUTION_VERSION, EMBED_BLOCK, Local, attribution_rows, bf16_for, paragraph_unit, unit_texts
from .progress import as_progress

@dataclass
class Entry:
    """An article as the index holds it: where it came from and where its file is stored."""
    article: Article
    origin: str  # "seed" or "user"
    file: str  # relative to the index dir
    # Who said each sentence of the article, in order: [kind, speaker, speaker_title]; worked out
    # once when the article is indexed (`qa.attribution`), so answering never re-reads an article.
    # Only while building: a built or loaded index keeps it compactly in `Index.who`.
    who: list | None = None


@dataclass
class Index:
    model: str
    dim: int
    entries: list[Entry]
    sent: np.ndarray  # int32 [n, 4]: entry row, paragraph row, start, end (offsets in article.text)
    para: np.ndarray  # int32 [m, 2]: entry row, paragraph number within the article
    # float32 [n, dim], normalised: in RAM while building; once saved or loaded memory-mapped from
    # the generation's file, or for a FAISS index over codes (the IVF) decoded from them
    # (`CodedVectors`; `exact_vectors` gives the floats behind)
    sent_vecs: np.ndarray
    para_vecs: np.ndarray  # float32 [m, dim], normalised (title + paragraph); as sent_vecs
    bm25_sent: object = None
    bm25_para: object = None
    # Who said each sentence, as int32 [n, 3] codes into `who_names` (kind, speaker, title; code 0
    # is None): a million sentences take 12 MB instead of a million small lists.
    who: np.ndarray | None = None
    who_names: list = field(default_factory=lambda: [None])
    # float32 [n]: each sentence's hubness (`qa.hubness`), worked out when it is indexed
    sent_hub: np.ndarray | None = None
    attribution: int = ATTRIBUTION_VERSION  # the rules that attributed `who` (older: again at the next build)
    _faiss: object = field(default=None, repr=False)
    _faiss_para: object = field(default=None, repr=False)

    # ------------------------------------------------------------ accessors
    def __len__(self) -> int:
        return len(self.sent)

    def article(self, row: int) -> Article:
        return self.entries[row].article

    def article_by_id(self, article_id: str) -> Article | None:
        return next((e.article for e in self.entries if e.article.id == article_id), None)

    def sentence_text(self, i: int) -> str:
        a, p, s, e = (int(x) for x in self.sent[i])
        article = self.entries[a].article
        k = int(self.para[p, 1])  # sentences never cross paragraphs: no need to join the article
        base = article.paragraph_start(k)
        return article.units[k][s - base:e - base]

    def paragraph_text(self, j: int) -> str:
        a, k = self.para[j]
        return self.entries[a].article.units[k]

    def column(self, j: int, table: str = "sent") -> np.ndarray:
        """Column `j` of the sentence table (or of `table="para"`, the paragraph table) as its own
        contiguous array, made once: a binary search over a strided column of a million rows
        copies it first, every time."""
        cols = self.__dict__.setdefault("_columns", {})
        if (table, j) not in cols:
            cols[(table, j)] = np.ascontiguousarray((self.sent if table == "sent" else self.para)[:, j])
        return cols[(table, j)]

    def first_row(self, entry_row: int) -> int:
        """The first sentence row of an article (rows are grouped by article, in order)."""
        return int(find(self.column(0), entry_row))

    def sentence_who(self, row: int) -> tuple[str, str | None, str | None]:
        """(kind, speaker, speaker_title) of a sentence row."""
        if self.who is not None:
            names = self.who_names
            return tuple(names[c] for c in self.who[row].tolist())
        a = int(self.sent[row, 0])
        entry, first = self.entries[a], self.first_row(a)
        if entry.who is None:  # an index written before attribution was stored
            n = int(find(self.column(0), a, side="right")) - first
            spans = [(int(s), int(e)) for s, e in self.sent[first:first + n, 2:4]]
            entry.who = attribution_rows(entry.article, spans)
        return tuple(entry.who[row - first])

    def sentence_counts(self) -> dict[str, int]:
        counts = np.bincount(self.sent[:, 0], minlength=len(self.entries)) if len(self.sent) else \
            np.zeros(len(self.entries), dtype=int)
        return {e.article.id: int(c) for e, c in zip(self.entries, counts)}

    @property
    def faiss(self):
        if self._faiss is None:
            self._faiss = vectors.make_faiss(self.sent_vecs, self.dim)
        return self._faiss

    @property
    def faiss_para(self):
        if self._faiss_para is None:
            self._faiss_para = vectors.make_faiss(self.para_vecs, self.dim)
        return self._faiss_para


# ------------------------------------------------------------------ build

def find(col: np.ndarray, keys, side: str = "left"):
    """`np.searchsorted` over a sorted column (`Index.column`), the keys in the column's own type:
    any other (a Python int too) makes NumPy cast the whole column first, ~0.5 ms a call at a
    million rows."""
    return np.searchsorted(col, np.asarray(keys).astype(col.dtype, copy=False), side=side)


class _Names:
    """Interned who-strings: code 0 is None."""

    def __init__(self):
        self.names: list = [None]
        self._code: dict = {None: 0}

    def code(self, name) -> int:
        c = self._code.get(name)
        if c is None:
            c = self._code[name] = len(self.names)
            self.names.append(name)
        return c

    def codes(self, rows) -> np.ndarray:
        return np.array([[self.code(x) for x in r] for r in rows], dtype=np.int32).reshape(-1, 3)


def build(entries: list[Entry], embedder, old: Index | None = None, progress=None,
          engine=None) -> tuple[Index, list[str]]:
    """Index `entries`; returns the index and the ids of the articles that were embedded.

    `progress`: a `qa.progress.Progress` or a callable(fraction, message); `engine`: where the
    per-article work runs (`qa.pipeline`; default: this machine)."""
    progress = as_progress(progress)
    own_engine = engine is None
    engine = engine or Local(embedder)
    reuse: dict[tuple[str, str], int] = {}
    if old is not None and old.model == embedder.name:
        reuse = {(e.article.id, e.article.fingerprint): r for r, e in enumerate(old.entries)}

    # Per entry: sentence rows with the paragraph number *within* the article, vectors, who codes
    # and where its sentences and paragraphs were in the old index (-1: new), for BM25.
    parts: list = [None] * len(entries)
    todo = [r for r, e in enumerate(entries) if (e.article.id, e.article.fingerprint) not in reuse]
    names = _Names()
    if old is not None:  # rows are grouped by article: slices, not a mask per article
        s_bounds = np.searchsorted(old.column(0), np.arange(len(old.entries) + 1), side="left")
        p_bounds = np.searchsorted(old.para[:, 0], np.arange(len(old.entries) + 1), side="left")
        remap = np.array([names.code(x) for x in old.who_names], dtype=np.int32) if old.who is not None else None
    for row, entry in enumerate(entries):
        a = entry.article
        old_row = reuse.get((a.id, a.fingerprint))
        if old_row is None:
            continue
        s0, s1 = int(s_bounds[old_row]), int(s_bounds[old_row + 1])
        p0, p1 = int(p_bounds[old_row]), int(p_bounds[old_row + 1])
        rows = old.sent[s0:s1].copy()
        rows[:, 1] = old.para[rows[:, 1], 1]
        if old.attribution != ATTRIBUTION_VERSION:  # attributed by older rules: again, by these
            who = names.codes(attribution_rows(a, [(int(s), int(e)) for s, e in old.sent[s0:s1, 2:4]]))
        else:
            who = remap[old.who[s0:s1]] if remap is not None else \
                names.codes(old.sentence_who(r) for r in range(s0, s1))
        parts[row] = (rows, vectors.exact_vectors(old.sent_vecs)[s0:s1], vectors.exact_vectors(old.para_vecs)[p0:p1],
                      who, np.arange(s0, s1), np.arange(p0, p1))

    try:
        # New articles: sentences and who said them (across the engine's workers), then their
        # sentences and titled paragraphs embedded in blocks of texts from many articles, so the
        # model batches texts of like length across articles.
        progress.phase("splitting", len(todo), "articles")
        prepared = engine.prepare([entries[r].article for r in todo], progress) if todo else []
        n_texts = sum(len(p.spans) + len(entries[r].article.units) for r, p in zip(todo, prepared))
        progress.phase("embedding", n_texts, "sentences and paragraphs")
        # bfloat16 or not (qa.embed), decided once for the build: every block the same way
        bf16 = bf16_for(embedder, n_texts)
        block_size = getattr(engine, "embed_block", EMBED_BLOCK)  # a Ray pool of actors starts once a block
        block: list[tuple[int, object, int]] = []  # (entry row, prepared, its sentence count)
        texts: list[str] = []
        for i, (r, prep) in enumerate(zip(todo, prepared)):
            a = entries[r].article
            texts += unit_texts(a, prep)
            block.append((r, prep, len(prep.spans)))
            if len(texts) >= block_size or i == len(todo) - 1:
                vecs, at = engine.embed(texts, progress, bf16), 0
                for r2, p2, n_sent in block:
                    n_all = n_sent + len(entries[r2].article.units)
                    rows = np.column_stack([np.full(n_sent, r2, np.int32), p2.spans]).astype(np.int32).reshape(-1, 4)
                    parts[r2] = (rows, vecs[at:at + n_sent], vecs[at + n_sent:at + n_all], names.codes(p2.who),
                                 np.full(n_sent, -1), np.full(n_all - n_sent, -1))
                    at += n_all
                block, texts = [], []
        prepared = None
    finally:
        if own_engine:
            engine.close()
        # a bfloat16 worker process (qa.embed) ends before the index is assembled: the two peaks do not add
        getattr(embedder, "release_doc_encoder", lambda: None)()
    new_entries = [Entry(e.article, e.origin, e.file) for e in entries]
    embedded = [entries[r].article.id for r in todo]

    dim = old.dim if old is not None and not todo and old.model == embedder.name else embedder.dim
    sent_rows, para_rows, para_offset = [], [], 0
    for row, (rows, _, pv, *_rest) in enumerate(parts):
        rows[:, 0] = row
        rows[:, 1] += para_offset  # from "paragraph k of this article" to a paragraph row
        sent_rows.append(rows)
        para_rows.append(np.array([(row, k) for k in range(len(pv))], dtype=np.int32).reshape(-1, 2))
        para_offset += len(pv)

    progress.phase("indexing", 3, "steps (vectors, hubness, BM25)")
    empty_v = np.zeros((0, dim), np.float32)
    index = Index(
        model=embedder.name, dim=dim, entries=new_entries,
        sent=np.concatenate(sent_rows) if parts else np.zeros((0, 4), np.int32),
        para=np.concatenate(para_rows) if parts else np.zeros((0, 2), np.int32),
        sent_vecs=np.concatenate([p[1] for p in parts] or [empty_v]).astype(np.float32, copy=False),
        para_vecs=np.concatenate([p[2] for p in parts] or [empty_v]).astype(np.float32, copy=False),
        who=np.concatenate([p[3] for p in parts] or [np.zeros((0, 3), np.int32)]), who_names=names.names,
        attribution=ATTRIBUTION_VERSION,
    )
    src = (np.concatenate([p[4] for p in parts] or [np.zeros(0, int)]),
           np.concatenate([p[5] for p in parts] or [np.zeros(0, int)])) if old is not None else (None, None)
    parts = None
    vectors.carry(index, old)
    progress.advance(1)
    _attach_hubness(index, old, src[0])
    progress.advance(1)
    _attach_bm25(index, old, *src)
    progress.advance(1)
    return index, embedded


def _attach_hubness(index: Index, old: Index | None, sent_src: np.ndarray | None) -> None:
    """Hubness of every sentence (`qa.hubness`): all of them again in a small index; in a large
    one carried over for sentences the old index had, worked out against the new index for the
    others (and for all when the old index had none)."""
    hub = np.zeros(len(index), dtype=np.float32)
    todo = np.arange(len(index))
    if len(index) > REFRESH_MAX and old is not None and old.sent_hub is not None and sent_src is not None \
            and len(old.sent_hub) == len(old):
        kept = sent_src >= 0
        hub[kept] = old.sent_hub[sent_src[kept]]
        todo = np.flatnonzero(~kept)
    if len(todo):
        hub[todo] = hubness(index.faiss, index.sent_vecs, todo)
    index.sent_hub = hub


def _attach_bm25(index: Index, old: Index | None = None, sent_src=None, para_src=None) -> None:
    """BM25 over sentences and titled paragraphs; with `old` and where each row was in it
    (-1: new), only new text is tokenized (see `qa.bm25.bm25`)."""
    index.bm25_sent = _bm25(old.bm25_sent if old else None, sent_src,
                            lambda rows: [index.sentence_text(int(i)) for i in rows], len(index.sent))
    index.bm25_para = _bm25(old.bm25_para if old else None, para_src,
                            lambda rows: [paragraph_unit(index.entries[a].article, k) for a, k in index.para[rows]],
                            len(index.para))


def pack_who(index: Index) -> None:
    """`Index.who` from the entries' per-article lists (an index assembled by hand, or read
    from a generation that kept them in entries.jsonl)."""
    if index.who is not None or any(e.who is None for e in index.entries):
        return
    names = _Names()
    index.who = names.codes(x for e in index.entries for x in e.who).reshape(-1, 3)
    if len(index.who) != len(index.sent):
        index.who = None
        return
    index.who_names = names.names
    for e in index.entries:
        e.who = None
