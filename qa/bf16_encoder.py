"""A build's documents through torch in bfloat16, on CPUs that compute it natively.

On a CPU with AMX or AVX512-BF16 (Intel Sapphire Rapids and later, AMD Zen 4 and later),
the same model in bfloat16 embeds a build's sentences and titled paragraphs about twice as
fast as ONNX Runtime in float32 (`qa.onnx_encoder`), and its vectors are at cosine 0.9998 or
more to the float32 ones (BBC sentences and paragraphs: see the README's "Scaling out"). A
build is mostly this work, so `Embedder` uses it for documents where the CPU has it
(`QA_BF16=auto`, the default; `on` uses it anyway, `off` never). Questions stay on ONNX
Runtime in float32: one short text on one thread, where bfloat16 buys nothing.

Batches have fixed shapes: a text's tokens are padded to the next multiple of `STEP` (its
width), and every batch holds `BATCH` rows of one width, with filler rows where a width has
fewer texts. In bfloat16 a text's vector otherwise depends on which texts share its batch
(up to 1e-3 apart); with fixed shapes it depends only on the text and the thread count, so
a Ray build and a single process with the same threads give the same bits
(`tests/test_ray_build.py`), and so does any order of the texts.

Memory: torch, the model and its kernels take about 450 MB, so a build runs the encoder in a
process of its own (`Worker`, `qa.embed`) that ends before the index is assembled; and the heap
holds on to the activations of every width it has seen (another ~250 MB over a BBC build),
so the freed heap goes back to the system as each width is done (glibc's `malloc_trim`).

Checked before it is used: the probe texts of `qa.onnx_encoder` through the same weights in
float32 and then in bfloat16, every vector at cosine `AGREEMENT` or more, else the build stays
on float32 (ONNX Runtime). The float32 session for questions is not made in a build that
embeds this way: ~150 MB less.

What is left out: questions (`qa.onnx_encoder`), the cache (`qa.embed`), GPUs (Ray's
actors use sentence-transformers there, `qa.ray_build`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path
from typing import Callable

import numpy as np

from .onnx_encoder import PROBES

BATCH = 16  # rows in every batch (16 and 32 within 2% on BBC texts)
STEP = 8  # widths are multiples of this many tokens: little padding, few shapes
AGREEMENT = 0.999  # least cosine to the float32 vector of each probe text


def native() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX512-BF16), from the kernel's CPU
    flags: no torch import to find out. Elsewhere than Linux: no."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[-1].split())
                    return bool(flags & {"amx_bf16", "avx512_bf16"})
    except OSError:
        pass
    return False


def wanted() -> bool:
    """`QA_BF16`: "off" never, "on" always, else (auto) where the CPU computes it natively."""
    choice = os.environ.get("QA_BF16", "auto").strip().lower()
    if choice in ("off", "0", "false", "no"):
        return False
    if choice in ("on", "1", "true", "yes"):
        return True
    return native()


def _trim() -> None:
    """Give the heap's free memory back to the system (glibc); elsewhere nothing."""
    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


class Bf16Encoder:
    """The model's transformer in bfloat16 with mean pooling and normalising in float32."""

    def __init__(self, model_path: Path, max_len: int, threads: int):
        import torch
        from transformers import AutoModel
        from transformers.utils import logging as hf_logging

        from .onnx_encoder import tokenizer
        hf_logging.disable_progress_bar()
        self.threads = threads
        self.tokenizer = tokenizer(model_path, max_len)
        self.max_len = max_len
        self.model = AutoModel.from_pretrained(str(model_path)).eval()
        self.dim = int(self.model.config.hidden_size)
        # the probes in float32 first: the vectors bfloat16 must agree with (`agreement`)
        reference = self.encode_batch(PROBES)
        self.model = self.model.to(torch.bfloat16)
        self.agreement = float((self.encode_batch(PROBES) * reference).sum(1).min())

    def _run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        import torch
        if torch.get_num_threads() != self.threads:
            torch.set_num_threads(self.threads)
        with torch.inference_mode():
            m = torch.from_numpy(mask)
            h = self.model(input_ids=torch.from_numpy(ids), attention_mask=m,
                           token_type_ids=torch.zeros_like(m))[0].float()  # float32 from here
            w = m.unsqueeze(-1).float()
            v = (h * w).sum(1) / w.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, p=2, dim=1).numpy()

    def encode_batch(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        """Normalised float32 rows for `texts`, in the given order."""
        texts = list(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        tokens = [np.array(e.ids, dtype=np.int64) for i in range(0, len(texts), 1024)
                  for e in self.tokenizer.encode_batch(texts[i:i + 1024])]
        lengths = np.array([len(t) for t in tokens])
        widths = np.minimum(np.maximum(-(-lengths // STEP) * STEP, STEP), max(self.max_len, 1))
        order = np.lexsort((np.arange(len(texts)), widths))
        # a filler row reads one token (the first text's first, [CLS] here); it is thrown away
        filler = next((t[:1] for t in tokens if len(t)), np.zeros(1, dtype=np.int64))
        i = 0
        while i < len(order):
            width = int(widths[order[i]])
            if i and width != widths[order[i - 1]]:
                _trim()  # the last width's activations
            rows = [int(r) for r in order[i:i + BATCH] if widths[r] == width]
            i += len(rows)
            ids = np.zeros((BATCH, width), dtype=np.int64)
            mask = np.zeros_like(ids)
            ids[:, :1], mask[:, 0] = filler, 1
            for r, j in enumerate(rows):
                ids[r, :lengths[j]], mask[r, :lengths[j]] = tokens[j], 1
            out[rows] = self._run(ids, mask)[:len(rows)]
            if progress:
                progress(len(rows))
        _trim()
        return out


def load(model_path: str | Path, threads: int) -> Bf16Encoder | None:
    """The bfloat16 encoder for this model when `wanted()`, the model is one `qa.onnx_encoder`
    supports (transformer + mean pooling), and on the probe texts it agrees with the same
    weights in float32; else None."""
    from .onnx_encoder import _supported
    if not wanted():
        return None
    model_path = Path(model_path)
    max_len = _supported(model_path) if model_path.is_dir() else None
    if max_len is None:
        return None
    try:
        enc = Bf16Encoder(model_path, max_len, threads)
    except Exception:  # anything odd (no transformers model class, a torch without bfloat16)
        return None
    return enc if enc.agreement >= AGREEMENT else None


# ------------------------------------------------------------ in a process of its own

CHUNK = 2048  # texts a worker embeds per task: progress moves; a text's vector does not depend on it
_here: Bf16Encoder | None = None  # the worker process's encoder


def _start(model_path: str, threads: int) -> None:
    global _here
    _here = load(model_path, threads)


def _ready() -> bool:
    return _here is not None


def _encode_chunk(texts: list[str]) -> np.ndarray:
    return _here.encode_batch(texts)


class Worker:
    """The encoder in a process of its own (spawned; one per build): torch, the model and its
    kernels (~450 MB) stay out of the building process, and go when `close()` ends it, before
    the index is assembled, the build's other memory peak (~450 MB more). The same vectors as
    in-process: chunks of texts do not change a text's vector."""

    def __init__(self, model_path: str | Path, threads: int):
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor
        self._pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_start,
                                         initargs=(str(model_path), threads))
        try:
            self.ready = bool(self._pool.submit(_ready).result())
        except Exception:  # the worker could not start (memory, a broken torch): float32 instead
            self.ready = False
        if not self.ready:
            self.close()

    def encode_batch(self, texts: list[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        texts = list(texts)
        # by length, so that a chunk's batches are full ones of few widths; rows back in order
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        chunks = [[texts[i] for i in order[j:j + CHUNK]] for j in range(0, len(order), CHUNK)]
        out = []
        for chunk, fut in zip(chunks, [self._pool.submit(_encode_chunk, c) for c in chunks]):
            out.append(fut.result())
            if progress:
                progress(len(chunk))
        if not out:
            return np.zeros((0, 0), dtype=np.float32)
        vecs = np.empty((len(texts), out[0].shape[1]), dtype=np.float32)
        vecs[order] = np.concatenate(out)
        return vecs

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


def start_worker(model_path: str | Path, threads: int) -> Worker | None:
    """A `Worker` for this model when `wanted()` and it loads and agrees (as `load`); else None."""
    if not wanted():
        return None
    w = Worker(model_path, threads)
    return w if w.ready else None
