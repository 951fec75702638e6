"""Index shards: one archive split by article into N ordinary index generations, searched in
parallel and answered as one index.

`split` cuts a built `Index` into N shards of consecutive articles with about as many sentences
each. Each shard is an ordinary generation (`qa.index_files.save` / `load`), but what ranking takes
from the whole collection is the whole collection's: every shard's BM25 is scored with the
collection's document count, mean length and document frequencies, and its sentences keep the
hubness they have against every sentence of the collection. `ShardedIndex` puts the loaded
shards back together as one `Index` for the answer path: the small per-sentence tables (which
article and paragraph, who said it, hubness: 32 bytes a sentence) are joined, and what is
large and searched stays in the shards: FAISS (`FanOutFaiss`), BM25 (`FanOutBM25`) and the
vectors (`Stacked`). A question's vector search and BM25 scoring run on every shard at once,
in threads (FAISS and numpy let go of the GIL), and are merged by global row; the rest of the
answer (features, reranking, quotes, abstention) runs once on the merged candidates. Shards
hold consecutive articles, so a sentence's global row is its row in the unsharded index and
the answers are the same (tests/test_shards.py, on a slice of the BBC archive).

On disk a shard set is one generation folder holding `shard-00/`, `shard-01/`, ... and the
manifest's `shards` list (each shard's folder and counts); it is written and replaced
atomically like any generation, and its checksums cover every shard's files.

Shards served from other machines (`qa.serve`, Ray Serve) plug into the same classes: a part
with a `handle` is remote, and is then asked in parallel, postings of many terms at once, and
BM25 scores together with the vector search (`start_scores`).

What is left out: adding or removing articles re-cuts the whole collection (`qa.library`
builds the new index in one process, then cuts it), so a write needs a machine that could
hold it; FAISS orders equal scores its own way, so the vector search's best k are the same
set as the single index's, ties (duplicate stories) in row order.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

from . import index as ix
from . import index_files
from . import vectors
from .bm25 import TermCounts, tokenize
from .search import _bm25_scores, _postings_sorted, sentence_hubness
from .store import IndexFileError

SHARD_DIR = "shard-{:02d}"
MAX_SHARDS = 64
PARALLEL_BM25_DOCS = 500_000  # documents a shard from which BM25 is scored in threads


# ------------------------------------------------------------------ split

def bounds(index: ix.Index, n: int) -> list[int]:
    """Entry rows where each of `n` shards starts (and the end): consecutive articles, about as
    many sentences each, every shard at least one article while there are enough."""
    n_entries = len(index.entries)
    n = max(1, min(n, n_entries)) if n_entries else 1
    per = np.bincount(index.column(0), minlength=n_entries) if len(index) else np.zeros(n_entries, int)
    cum = np.concatenate([[0], np.cumsum(per)])
    cuts = [0]
    for i in range(1, n):
        at = int(np.searchsorted(cum, cum[-1] * i / n, side="left"))
        cuts.append(min(max(at, cuts[-1] + 1), n_entries - (n - i)))
    return cuts + [n_entries]


def scores_of(bm, tokens: list[str]) -> np.ndarray:
    """One shard's BM25 scores of its every document for `tokens` (zeros where it knows none)."""
    got = _bm25_scores(bm, tokens)
    return got if got is not None else np.zeros(int(bm.scores["num_docs"]), np.float32)


def _who_codes(index: ix.Index, names: "ix._Names") -> np.ndarray:
    """Who said each sentence of `index`, as codes into `names` (which grows as needed)."""
    ix.pack_who(index)
    if index.who is None:
        return names.codes(index.sentence_who(r) for r in range(len(index)))
    return np.array([names.code(x) for x in index.who_names], dtype=np.int32)[index.who]


def _counts(bm, texts) -> TermCounts:
    got = getattr(bm, "_qa_counts", None)
    return got if got is not None else TermCounts.of(tokenize(texts()))


def split(index: ix.Index, n: int) -> list[ix.Index]:
    """`index` as `n` shards (fewer when it has fewer articles) that rank as it does."""
    coder = ix._Names()
    who, names = _who_codes(index, coder), coder.names
    hub = sentence_hubness(index)
    sent_counts = _counts(index.bm25_sent, lambda: [index.sentence_text(i) for i in range(len(index))])
    para_counts = _counts(index.bm25_para, lambda: [ix.paragraph_unit(index.entries[a].article, k)
                                                    for a, k in index.para])
    s_stats, p_stats = sent_counts.stats(), para_counts.stats()
    s_words, p_words = sent_counts.words(), para_counts.words()
    sent_vecs, para_vecs = vectors.exact_vectors(index.sent_vecs), vectors.exact_vectors(index.para_vecs)
    cuts = bounds(index, n)
    s_col, p_col = index.column(0), index.column(0, "para")
    out = []
    for e0, e1 in zip(cuts, cuts[1:]):
        s0, s1 = int(ix.find(s_col, e0)), int(ix.find(s_col, e1))
        p0, p1 = int(ix.find(p_col, e0)), int(ix.find(p_col, e1))
        sent = np.array(index.sent[s0:s1], dtype=np.int32)
        sent[:, 0] -= e0
        sent[:, 1] -= p0
        para = np.array(index.para[p0:p1], dtype=np.int32)
        para[:, 0] -= e0
        shard = ix.Index(model=index.model, dim=index.dim,
                         entries=[ix.Entry(e.article, e.origin, e.file) for e in index.entries[e0:e1]],
                         sent=sent, para=para,
                         sent_vecs=np.asarray(sent_vecs[s0:s1], dtype=np.float32),
                         para_vecs=np.asarray(para_vecs[p0:p1], dtype=np.float32),
                         who=np.array(who[s0:s1]), who_names=list(names), sent_hub=np.array(hub[s0:s1]),
                         attribution=index.attribution)
        for attr, counts, stats, words, lo, hi in (("bm25_sent", sent_counts, s_stats, s_words, s0, s1),
                                                   ("bm25_para", para_counts, p_stats, p_words, p0, p1)):
            own, df = counts.take(np.arange(lo, hi)).compact(stats.df, words)
            setattr(shard, attr, own.bm25(replace(stats, df=df)))
        out.append(shard)
    return out


# ------------------------------------------------------------- save / load

def save(shards: list[ix.Index], gen: Path) -> tuple[dict, list[dict]]:
    """Write each shard into its folder of the generation `gen`; returns the files' sizes (by
    path under `gen`) and the manifest's `shards` records."""
    sizes, records = {}, []
    for i, shard in enumerate(shards):
        name = SHARD_DIR.format(i)
        (gen / name).mkdir()
        sizes.update({f"{name}/{f}": size for f, size in index_files.save(shard, gen / name).items()})
        index_files.map_saved(shard, gen / name)
        records.append({"dir": name, "articles": len(shard.entries), "paragraphs": int(len(shard.para)),
                        "sentences": int(len(shard.sent))})
    return sizes, records


def shard_manifest(manifest: dict, i: int) -> dict:
    """The manifest of shard `i` as an ordinary generation's (model, dim, counts, its checksums)."""
    rec = manifest["shards"][i]
    prefix = rec["dir"] + "/"
    part = {k[len(prefix):]: v for k, v in (manifest.get("checksums") or {}).items() if k.startswith(prefix)}
    files = {k[len(prefix):]: v for k, v in (manifest.get("files") or {}).items() if k.startswith(prefix)}
    return {"model": manifest["model"], "dim": manifest["dim"], "checksums": part, "files": files,
            "counts": {k: rec[k] for k in ("articles", "paragraphs", "sentences")}}


def load(gen: Path, manifest: dict) -> "ShardedIndex":
    """A shard set's generation as one index; any damage is one IndexFileError naming the file."""
    recs = manifest["shards"]
    if not isinstance(recs, list) or not recs or len(recs) > MAX_SHARDS \
            or not all(isinstance(r, dict) and r.get("dir") == SHARD_DIR.format(i) for i, r in enumerate(recs)):
        raise IndexFileError(f"{gen}: the manifest's shard list is malformed")
    with ThreadPoolExecutor(min(len(recs), os.cpu_count() or 1)) as pool:
        shards = list(pool.map(lambda i: index_files.load(gen / recs[i]["dir"], shard_manifest(manifest, i)),
                               range(len(recs))))
    return ShardedIndex.of(shards)


# ------------------------------------------------------------- the set as one index

def _offsets(sizes) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(list(sizes))]).astype(np.int64)


class Stacked(vectors.RowMatrix):
    """The shards' vector matrices read as one [n, dim] matrix (`qa.vectors.RowMatrix`): rows
    are read from the shard that holds them, an article's rows (a slice in one shard) at once."""

    def __init__(self, parts: list, pool: ThreadPoolExecutor | None = None):
        self.parts = parts
        self.pool = pool if any(hasattr(p, "handle") for p in parts) else None  # parallel reads: remote shards
        self.starts = _offsets(len(p) for p in parts)
        self.shape = (int(self.starts[-1]), int(parts[0].shape[1]) if parts else 0)

    def exact(self) -> "Stacked":
        return Stacked([vectors.exact_vectors(p) for p in self.parts], self.pool)

    def _take(self, rows: np.ndarray) -> np.ndarray:
        which = np.searchsorted(self.starts, rows, side="right") - 1
        if which[0] == which[-1] and (which == which[0]).all():  # one shard: one read
            s = int(which[0])
            return np.asarray(self.parts[s][rows - self.starts[s]], dtype=np.float32)
        out = np.empty((len(rows), self.shape[1]), np.float32)
        shards = np.unique(which).tolist()
        ats = [np.flatnonzero(which == s) for s in shards]
        read = lambda j: self.parts[shards[j]][rows[ats[j]] - self.starts[shards[j]]]
        for at, got in zip(ats, self.pool.map(read, range(len(shards))) if self.pool else map(read, range(len(shards)))):
            out[at] = got
        return out

    def _slice(self, lo: int, hi: int, step: int) -> np.ndarray:
        s = int(np.searchsorted(self.starts, lo, side="right")) - 1
        if step == 1 and lo < hi and hi <= self.starts[s + 1]:  # within one shard
            return np.asarray(self.parts[s][lo - self.starts[s]:hi - self.starts[s]], dtype=np.float32)
        return super()._slice(lo, hi, step)

    def __array__(self, dtype=None, copy=None):
        out = np.concatenate([np.asarray(p, dtype=np.float32) for p in self.parts]) if self.parts \
            else np.zeros(self.shape, np.float32)
        return out if dtype is None else out.astype(dtype, copy=False)


class FanOutFaiss:
    """FAISS search over every shard at once; the best `k` of their hits by global row."""

    def __init__(self, parts: list, pool: ThreadPoolExecutor | None):
        self.parts, self.pool = parts, pool
        self.starts = _offsets(int(p.ntotal) for p in parts)
        self.ntotal, self.d = int(self.starts[-1]), int(parts[0].d)
        kinds = {vectors.kind_of(p) for p in parts}
        self.qa_kind = kinds.pop() if len(kinds) == 1 else "mixed"
        # BM25 indexes whose scores a shard served elsewhere returns with its search (one call a
        # shard for both: `FanOutBM25.start_scores`); set by `ShardedIndex.of`
        self.companions: tuple = ()

    def search(self, q: np.ndarray, k: int):
        asked = [bm.pending() for bm in self.companions]
        together = any(t is not None for t in asked) and all(hasattr(p, "first") for p in self.parts)

        def one(i):
            fx = self.parts[i]
            if together:
                return fx.first(q, min(k, int(fx.ntotal)), asked)
            return fx.search(q, min(k, int(fx.ntotal))) if fx.ntotal else (None, None)
        found = list(self.pool.map(one, range(len(self.parts)))) if self.pool else [one(0)]
        if together:
            for j, bm in enumerate(self.companions):
                if asked[j] is not None:
                    bm.fulfil(asked[j], [f[2][j] for f in found])
        d = np.concatenate([f[0] for f in found if f[0] is not None], axis=1)
        ids = np.concatenate([np.where(f[1] >= 0, f[1] + self.starts[i], -1)
                              for i, f in enumerate(found) if f[1] is not None], axis=1)
        out_d = np.full((len(q), k), -np.inf, np.float32)
        out_i = np.full((len(q), k), -1, np.int64)
        for r in range(len(q)):
            ok = ids[r] >= 0
            order = np.lexsort((ids[r][ok], -d[r][ok]))[:k]  # best first; equal scores by row
            out_d[r, :len(order)], out_i[r, :len(order)] = d[r][ok][order], ids[r][ok][order]
        return out_d, out_i


class _Vocab:
    """`term in vocab`: whether any shard's BM25 knows the term."""

    def __init__(self, parts):
        self.parts = parts

    def __contains__(self, term) -> bool:
        return any(term in p.vocab_dict for p in self.parts)


class FanOutBM25:
    """The shards' BM25 indexes as one: scores and postings by global row. The shards were
    scored with the whole set's statistics (`split`), so these are the unsharded index's.
    Shards served elsewhere (`qa.serve`) are asked in parallel, postings of many terms at once,
    and a question's scores while its vector search runs (`start_scores`)."""

    POSTINGS_KEPT = 4096  # terms whose merged postings are kept

    def __init__(self, parts: list, pool: ThreadPoolExecutor | None):
        self.parts, self.pool = parts, pool
        self.starts = _offsets(int(p.scores["num_docs"]) for p in parts)
        self.scores = {"num_docs": int(self.starts[-1])}
        self.vocab_dict = _Vocab(parts)
        self._qa_sorted = all(_postings_sorted(p) for p in parts)
        self._qa_counts = None  # a write tokenizes the set again (`qa.bm25.bm25`)
        self.remote = any(hasattr(p, "handle") for p in parts)
        self._postings: dict[str, np.ndarray] = {}
        self._started = threading.local()

    def _map(self, work, threads: bool):
        pool = self.pool if threads and self.pool is not None else None
        return list(pool.map(work, range(len(self.parts))) if pool else map(work, range(len(self.parts))))

    def start_scores(self, tokens: list[str]) -> None:
        """Shards served elsewhere: these tokens' scores are to come back with the vector search
        this thread runs next (`FanOutFaiss.search`), in the same call to each shard."""
        if tokens and self.remote:
            self._started.job = (list(tokens), None)

    def pending(self) -> list[str] | None:
        job = getattr(self._started, "job", None)
        return job[0] if job is not None and job[1] is None else None

    def fulfil(self, tokens: list[str], per_shard: list[np.ndarray]) -> None:
        self._started.job = (tokens, per_shard)

    def get_scores(self, tokens: list[str]) -> np.ndarray:
        job, self._started.job = getattr(self._started, "job", None), None
        if job is not None and job[1] is not None and job[0] == list(tokens):
            return np.concatenate([np.asarray(x, dtype=np.float32) for x in job[1]])
        # Scoring a shard's postings is quick next to handing work to a thread (0.02 against 0.3 ms
        # at 14k sentences a shard): threads only for shards large enough, or elsewhere.
        threads = self.remote or self.scores["num_docs"] >= PARALLEL_BM25_DOCS * len(self.parts)
        return np.concatenate(self._map(lambda i: scores_of(self.parts[i], tokens), threads))

    def prefetch(self, terms) -> dict[str, np.ndarray]:
        """The merged postings of `terms`; those not yet held are asked of each shard at once."""
        held = self._postings
        out = {t: held[t] for t in terms if t in held}
        missing = [t for t in dict.fromkeys(terms) if t not in out]
        if not missing:
            return out
        from .search import _posting_list

        def one(i):
            p = self.parts[i]
            lists = p.posting_lists(missing) if hasattr(p, "posting_lists") else \
                [_posting_list(p, t) for t in missing]
            return [np.asarray(x, dtype=np.int64) + self.starts[i] for x in lists]
        found = self._map(one, self.remote)
        new = {t: np.concatenate([f[j] for f in found]) for j, t in enumerate(missing)}
        kept = held if len(held) + len(new) <= self.POSTINGS_KEPT else {}
        kept.update(new)  # one dict swap: threads asking at once see the old or the new one
        self._postings = kept
        out.update(new)
        return out

    def posting_list(self, term: str) -> np.ndarray:
        got = self._postings.get(term)
        return got if got is not None else self.prefetch([term])[term]


class ShardedIndex(ix.Index):
    """Shards read as the one index they were cut from (see the module's docstring)."""

    shards: list = None

    @classmethod
    def of(cls, shards: list[ix.Index]) -> "ShardedIndex":
        e_off = _offsets(len(s.entries) for s in shards)
        p_off = _offsets(len(s.para) for s in shards)
        sent = np.concatenate([s.sent + np.array([e_off[i], p_off[i], 0, 0], np.int32)
                               for i, s in enumerate(shards)]).astype(np.int32)
        para = np.concatenate([s.para + np.array([e_off[i], 0], np.int32)
                               for i, s in enumerate(shards)]).astype(np.int32)
        names = ix._Names()  # one table of names for the set: each shard's codes mapped into it
        who = [_who_codes(s, names) for s in shards]
        pool = ThreadPoolExecutor(len(shards), thread_name_prefix="qa-shard", initializer=vectors.serve_threads) \
            if len(shards) > 1 else None
        out = cls(model=shards[0].model, dim=shards[0].dim,
                  entries=[e for s in shards for e in s.entries], sent=sent, para=para,
                  sent_vecs=Stacked([s.sent_vecs for s in shards], pool),
                  para_vecs=Stacked([s.para_vecs for s in shards], pool),
                  bm25_sent=FanOutBM25([s.bm25_sent for s in shards], pool),
                  bm25_para=FanOutBM25([s.bm25_para for s in shards], pool),
                  who=np.concatenate(who).reshape(-1, 3).astype(np.int32), who_names=names.names,
                  sent_hub=np.concatenate([sentence_hubness(s) for s in shards]).astype(np.float32),
                  attribution=min(s.attribution for s in shards),
                  _faiss=FanOutFaiss([s.faiss for s in shards], pool),
                  _faiss_para=FanOutFaiss([s.faiss_para for s in shards], pool))
        out._faiss.companions = (out.bm25_sent, out.bm25_para)
        out.shards = shards
        return out
