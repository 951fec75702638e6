"""Which FAISS index serves a set of vectors, and how a question reads the vectors back.

The kind is a matter of size alone (constants below, measured by benchmarks/bench.py); an
approximate index over 16-bit codes also serves the candidates' vectors (`CodedVectors`), so a
large index is answered without reading its float file, while building, saving and extending
use the exact floats (`exact_vectors`). Adding articles extends an approximate index instead of
building it again (`carry`).

What is left out: the sentences and paragraphs the vectors belong to (`qa.index`).
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .index import Index


# Which FAISS index serves a set of vectors is a matter of size alone
# (benchmarks/bench.py measures the numbers behind these constants):
# - up to EXACT_MAX vectors, exact inner product: a flat scan costs about
#   0.1 ms per 1,000 vectors on one core, cheap next to embedding the question;
# - above, HNSW graph search over the float vectors (about 0.6 ms at 100k);
# - above CODED_MIN, an inverted file (IVF, about 4 sqrt(n) k-means lists, NPROBE
#   of them searched) over 16-bit float codes (FAISS SQfp16): 1M x 384 vectors
#   take 0.77 GB in RAM, and search re-scores its candidates from these codes
#   (`CodedVectors`), so the 1.5 GB float file is never read while serving.
#   Re-scoring from the float file, memory-mapped, touched a few thousand rows a
#   question and the kernel maps the pages around each: after 200 questions
#   nearly the whole file was resident (RSS 2.6 GB at 1M). 8-bit codes (SQ8,
#   0.4 GB) were tried first: their error (about 5e-4 on a score) is as large as
#   the gap between the 10th and 11th best sentence, so re-scored from them only
#   0.9725 of the exact top 10 was found at 1M (FAISS's own top 10, 0.99 when
#   re-scored from the floats); fp16 codes differ from the floats by about 1e-5.
#   HNSW over 8-bit codes found only 0.69 at 1M (0.79 with efSearch 512), with a
#   0.26 GB graph on top. The threshold is low enough that the paragraphs of a
#   million sentences (~200k) are coded too: their float copy in an HNSW graph
#   was 0.3 GB.
# search.py takes 100 candidates and re-scores them (and their neighbours) from
# `Index.sent_vecs`: the float vectors, memory-mapped, for flat and HNSW; the
# IVF's codes decoded for the IVF. bench.py's recall@10 measures what search sees.
# Adding articles extends an approximate index with `add` (see `carry`):
# HNSW needs no training, and the IVF keeps the lists it was trained with.
EXACT_MAX = 50_000
CODED_MIN = 150_000
HNSW_M = 32
EF_CONSTRUCTION = 80  # faiss's default is 40; at 100k this graph finds 0.997 of the exact top 10
EF_SEARCH = 128
NPROBE = 64
_CHUNK = 65_536  # rows converted and added at a time, so a memory-mapped matrix is never copied whole


def faiss_kind(n: int) -> str:
    return "flat" if n <= EXACT_MAX else "hnsw" if n <= CODED_MIN else "ivf-fp16"


def kind_of(fx) -> str:
    if hasattr(fx, "qa_kind"):  # a shard set's fan-out over its shards' indexes (`qa.shards`)
        return fx.qa_kind
    import faiss
    if isinstance(fx, faiss.IndexIVFScalarQuantizer):
        if fx.sq.qtype == faiss.ScalarQuantizer.QT_fp16:
            return "ivf-fp16"
        return "ivf-sq8"  # generations written before fp16 codes; replaced at their next change
    if isinstance(fx, faiss.IndexHNSWSQ):
        return "hnsw-sq8"  # generations written before the IVF; replaced at their next change
    if isinstance(fx, faiss.IndexHNSW):
        return "hnsw"
    return "flat"


class RowMatrix:
    """A read-only float32 matrix [n, dim] whose rows are read through `_take` (a sorted or
    unsorted int64 array of rows, each in range): `CodedVectors`, a shard set's `Stacked` and
    the ingress's `qa.serve` vectors. Supports len(), .shape, .dtype, v[i], v[int array] (any
    order, repeats, negative from the end), v[bool mask], v[i:j:k] and v[rows, cols]."""

    ndim = 2
    dtype = np.dtype(np.float32)
    shape: tuple[int, int]

    def __len__(self) -> int:
        return self.shape[0]

    def _take(self, ids: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _slice(self, lo: int, hi: int, step: int) -> np.ndarray:
        return self._rows(np.arange(lo, hi, step))

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64).ravel()
        n = self.shape[0]
        if len(ids) and (ids.min() < -n or ids.max() >= n):
            raise IndexError(f"row out of range for {n} vectors")
        ids = np.ascontiguousarray(np.where(ids < 0, ids + n, ids))
        if not len(ids):
            return np.zeros((0, self.shape[1]), np.float32)
        return self._take(ids)

    def __getitem__(self, key):
        if isinstance(key, tuple):
            rows, *rest = key
            return self[rows][(slice(None), *rest)] if rest else self[rows]
        if isinstance(key, slice):
            return self._slice(*key.indices(self.shape[0]))
        if isinstance(key, (int, np.integer)):
            return self._rows(np.array([key]))[0]
        key = np.asarray(key)
        if key.dtype == bool:
            if key.shape != (self.shape[0],):
                raise IndexError(f"boolean index of shape {key.shape} for {self.shape[0]} rows")
            key = np.flatnonzero(key)
        elif not np.issubdtype(key.dtype, np.integer):
            if key.size:
                raise IndexError("rows must be integers, a slice or a boolean mask")
            key = key.astype(np.int64)
        return self._rows(key).reshape(*key.shape, self.shape[1])


class CodedVectors(RowMatrix):
    """The vectors a coded FAISS index holds, read as a float32 matrix [n, dim]: what search
    re-scores its candidates with when the index is an IVF over codes (`serving_vectors`).

    A million sentences' float file is 1.5 GB; their codes are already in RAM inside FAISS.
    Reading candidates' rows from the memory-mapped floats left nearly the whole file
    resident after a few hundred questions (the kernel maps the pages around every row it
    reads), so such an index decodes rows from its codes instead (an 8-byte-a-row direct map
    says where each row's code is). Decoded vectors differ from the floats by the code's
    step: about 1e-5 a component for fp16, 5e-4 for 8-bit codes; `floats` is the exact
    matrix, memory-mapped and never read by search: building (re-used rows, extending FAISS)
    and bench's ground truth use it.

    Read-only (`RowMatrix`); np.asarray(v) decodes every row."""

    def __init__(self, fx, floats: np.ndarray | None = None):
        import faiss
        if isinstance(fx, faiss.IndexIVF) and fx.direct_map.type == faiss.DirectMap.NoMap:
            fx.make_direct_map()  # row -> (list, offset): rows are added in order, so an array
        self.fx = fx
        self.shape = (int(fx.ntotal), int(fx.d))
        self.floats = floats
        if floats is not None and tuple(floats.shape) != self.shape:
            raise ValueError(f"float vectors {tuple(floats.shape)} != coded {self.shape}")

    def __repr__(self) -> str:
        return f"CodedVectors({type(self.fx).__name__}, shape={self.shape})"

    def _take(self, ids: np.ndarray) -> np.ndarray:
        return self.fx.reconstruct_batch(ids)

    def __array__(self, dtype=None, copy=None):
        out = np.empty(self.shape, np.float32)
        for i in range(0, self.shape[0], _CHUNK):
            out[i:i + _CHUNK] = self[i:i + _CHUNK]
        return out if dtype is None else out.astype(dtype, copy=False)


def exact_vectors(vecs):
    """The float vectors behind `vecs` (a matrix, a memory map, a `CodedVectors`, or a shard
    set's `qa.shards.Stacked`)."""
    if hasattr(vecs, "exact"):
        return vecs.exact()
    if isinstance(vecs, CodedVectors):
        if vecs.floats is None:
            raise ValueError("coded vectors without their float file")
        return vecs.floats
    return vecs


def serving_vectors(fx, floats: np.ndarray):
    """What search reads an index's vectors from: for a FAISS index over codes (IVF fp16 or
    8-bit, HNSW 8-bit) its codes (`CodedVectors`, with `floats` kept behind them), else
    `floats` themselves (flat and HNSW: the float vectors, memory-mapped)."""
    if fx is not None and kind_of(fx) in ("ivf-fp16", "ivf-sq8", "hnsw-sq8") and int(fx.ntotal) == len(floats):
        return CodedVectors(fx, floats)
    return floats


def n_lists(n: int) -> int:
    """IVF lists for `n` vectors: the power of two nearest 4 sqrt(n), at least 39 training
    vectors a list (k-means needs them)."""
    return int(max(1, min(2 ** round(np.log2(4 * np.sqrt(max(n, 1)))), n // 39)))


def search_params(fx) -> None:
    if hasattr(fx, "hnsw"):
        fx.hnsw.efSearch = EF_SEARCH
    if hasattr(fx, "nprobe"):
        fx.nprobe = NPROBE


def serve_threads() -> None:
    """One query at a time is answered fastest on one OpenMP thread (and leaves a core free)."""
    import faiss
    faiss.omp_set_num_threads(1)
    _serving.set = True


_serving = threading.local()


def serving_thread() -> None:
    """`serve_threads` once in each thread that searches. OpenMP's setting is per thread: a web
    server's worker threads start with its default, every core, and answered one BBC question in
    25 ms instead of 20 (FAISS 6.5 ms instead of 4.9; the same when two ask at once)."""
    if not getattr(_serving, "set", False):
        serve_threads()


def _add(fx, vecs: np.ndarray, train: bool = False) -> None:
    import faiss
    faiss.omp_set_num_threads(os.cpu_count() or 1)  # k-means and graph construction use every core
    try:
        if train:  # a sample of at most 40 vectors a list: k-means needs no more
            step = max(1, len(vecs) // (40 * getattr(fx, "nlist", 1)))
            fx.train(np.ascontiguousarray(vecs[::step], dtype=np.float32))
        for i in range(0, len(vecs), _CHUNK):
            fx.add(np.ascontiguousarray(vecs[i:i + _CHUNK], dtype=np.float32))
    finally:
        serve_threads()


def make_faiss(vecs: np.ndarray, dim: int, kind: str | None = None):
    """A FAISS inner-product index over `vecs`, of the kind their number calls for."""
    import faiss
    kind = kind or faiss_kind(len(vecs))
    if kind == "flat":
        fx = faiss.IndexFlatIP(dim)
    elif kind == "hnsw":
        fx = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        fx.hnsw.efConstruction = EF_CONSTRUCTION
    elif kind in ("ivf-fp16", "ivf-sq8"):  # 8-bit: generations before fp16, and tests
        code = "SQfp16" if kind == "ivf-fp16" else "SQ8"
        fx = faiss.index_factory(dim, f"IVF{n_lists(len(vecs))},{code}", faiss.METRIC_INNER_PRODUCT)
    else:
        raise ValueError(f"unknown FAISS index kind {kind!r}")
    search_params(fx)
    if len(vecs):
        _add(fx, vecs, train=not fx.is_trained)
    serve_threads()
    return fx


def _extended(fx, n_old: int, vecs: np.ndarray, dim: int):
    """An index over `vecs` whose first `n_old` rows `fx` already holds: a copy of `fx` with
    the new rows added, or None when the size calls for another kind of index."""
    import faiss
    if fx is None or fx.ntotal != n_old or fx.d != dim or kind_of(fx) != faiss_kind(len(vecs)):
        return None
    if kind_of(fx) == "flat":
        return None  # a flat index is a copy of the vectors: building it anew costs the same
    out = faiss.clone_index(fx)  # the old index keeps serving until the new generation is saved
    search_params(out)
    _add(out, vecs[n_old:])
    return out


def carry(index: Index, old: Index | None) -> None:
    """When only articles were appended, extend the old FAISS indexes instead of building new ones."""
    if old is None or old.model != index.model or old.dim != index.dim or len(index.entries) < len(old.entries) \
            or getattr(old, "shards", None):  # a shard set's indexes are its shards', not one to extend
        return
    keys = [(e.article.id, e.article.fingerprint) for e in index.entries[:len(old.entries)]]
    if keys != [(e.article.id, e.article.fingerprint) for e in old.entries]:
        return
    for new_vecs, old_vecs, attr in ((index.sent_vecs, exact_vectors(old.sent_vecs), "_faiss"),
                                     (index.para_vecs, exact_vectors(old.para_vecs), "_faiss_para")):
        n = len(old_vecs)
        if len(new_vecs) < n or (n and not np.array_equal(new_vecs[n - 1], old_vecs[n - 1])):
            return
        fx = _extended(getattr(old, attr), n, new_vecs, index.dim)
        if fx is not None:
            setattr(index, attr, fx)
