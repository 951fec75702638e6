"""Questions through ONNX Runtime, so that answering never imports torch.

The sentence-transformers model (Transformer + mean Pooling + Normalize, as
all-MiniLM-L6-v2 is) is exported once, locally, from the same weights with
`torch.onnx.export` (opset 17; pooling and normalising are part of the graph;
the attention traced in its plain "eager" form, which ONNX Runtime runs about 12%
faster here than the graph traced from torch's fused scaled-dot-product attention),
then checked against torch on probe sentences: the export is used only when
every vector agrees within `TOLERANCE`. Exports live in `QA_CACHE`
(default ~/.cache/qa), keyed by the model folder's files, so a changed model
is exported again. Tokenising uses the model's own tokenizer.json through
`tokenizers`, truncated to the model's max_seq_length.

Batches of documents (building an index) go through a second session that uses
every core (`encode_batch`): texts sorted by token length and cut into small
batches, so hardly any padding goes through the model; the probes are checked
that way too (padded in one batch) before the export is trusted.

What is left out: any model other than Transformer + mean pooling (+ Normalize):
those stay on torch (`qa.embed`).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import warnings
from pathlib import Path
from typing import Callable

import numpy as np

_session_lock = threading.Lock()

FORMAT = 3  # 2: the verdict also checks padded batches; 3: eager attention traced
TOLERANCE = 1e-5
PROBES = [
    "Why isn't Russia in the coalition?",
    "a",
    "Die Ölkrise von 1973 — ¿qué pasó? 数字 42, e-mail x@y.org & co.",
    " ".join(["A long sentence that runs past the model's limit of tokens."] * 40),
]


def cache_dir() -> Path:
    return Path(os.environ.get("QA_CACHE") or Path.home() / ".cache" / "qa")


def _key(model_path: Path) -> str:
    h = hashlib.sha1(f"{FORMAT}\0{model_path.resolve()}".encode())
    for p in sorted(model_path.rglob("*")):
        if p.is_file() and not p.name.startswith("."):
            st = p.stat()
            h.update(f"{p.relative_to(model_path)}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    return h.hexdigest()[:20]


def _supported(model_path: Path) -> int | None:
    """max_seq_length when the model is Transformer + mean Pooling (+ Normalize), else None."""
    try:
        modules = json.loads((model_path / "modules.json").read_text("utf-8"))
        types = [m["type"].rsplit(".", 1)[-1] for m in modules]
        if types not in (["Transformer", "Pooling", "Normalize"], ["Transformer", "Pooling"]):
            return None
        pool = next(m["path"] for m in modules if m["type"].endswith("Pooling"))
        cfg = json.loads((model_path / pool / "config.json").read_text("utf-8"))
        if not cfg.get("pooling_mode_mean_tokens") or any(
                v for k, v in cfg.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"):
            return None
        if not (model_path / "tokenizer.json").exists():
            return None
        return int(json.loads((model_path / "sentence_bert_config.json").read_text("utf-8"))["max_seq_length"])
    except (OSError, KeyError, ValueError, StopIteration):
        return None


# ONNX Runtime's memory arena: without it a BBC slice took 20% longer and no less memory
ARENA = os.environ.get("QA_ONNX_ARENA", "1") == "1"
BATCH = 16  # texts per batch: 4 to 64 measured on BBC sentences and paragraphs, 8-16 fastest


def threads() -> int:
    """Cores this process may use (`QA_THREADS` overrides)."""
    env = os.environ.get("QA_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def tokenizer(model_path: Path, max_len: int):
    """The model's own tokenizer (tokenizer.json), truncating to `max_len`, no padding."""
    from tokenizers import Tokenizer
    t = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    t.enable_truncation(max_length=max_len)
    t.no_padding()
    return t


class OnnxEncoder:
    def __init__(self, onnx_path: Path, model_path: Path, max_len: int):
        self._path = onnx_path
        self._session = None  # for questions, one thread: made on first use
        self._batch_session = None  # for a build's batches, every core: made on first use
        self.tokenizer = tokenizer(model_path, max_len)
        self._dim: int | None = None
        try:  # transformer + mean pooling: the vector is as wide as the hidden states (no session needed)
            self._dim = int(json.loads((model_path / "config.json").read_text("utf-8"))["hidden_size"])
        except (OSError, KeyError, ValueError):
            pass

    @property
    def dim(self) -> int:
        if self._dim is None:
            s = self._batch_session or self.session
            self._dim = int(s.get_outputs()[0].shape[-1])
        return self._dim

    def _feed(self, session, feed: dict) -> dict:
        names = {i.name for i in session.get_inputs()}
        return {k: v for k, v in feed.items() if k in names}

    @staticmethod
    def _new_session(path: Path, threads: int, arena: bool = True):
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.enable_cpu_mem_arena = arena
        return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    @property
    def session(self):
        """A session for questions: one at a time on one thread is fastest and leaves the other
        cores to the rest."""
        if self._session is None:
            with _session_lock:  # the second stage embeds on a worker thread too (qa.rerank)
                if self._session is None:
                    self._session = self._new_session(self._path, 1)
        return self._session

    def encode(self, texts: list[str]) -> np.ndarray:
        out = []
        for t in texts:  # one at a time: no padding, so nothing but the text goes through the model
            e = self.tokenizer.encode(t)
            feed = {"input_ids": np.array([e.ids], dtype=np.int64),
                    "attention_mask": np.array([e.attention_mask], dtype=np.int64),
                    "token_type_ids": np.array([e.type_ids], dtype=np.int64)}
            out.append(self.session.run(None, self._feed(self.session, feed))[0][0])
        return np.ascontiguousarray(np.stack(out), dtype=np.float32)

    @property
    def batch_session(self):
        """A session for batches of documents, on every core this process may use; without
        ONNX Runtime's memory arena where QA_ONNX_ARENA=0."""
        if self._batch_session is None:
            self._batch_session = self._new_session(self._path, threads(), arena=ARENA)
        return self._batch_session

    def encode_batch(self, texts: list[str], batch_size: int | None = None,
                     progress: Callable[[int], None] | None = None, one_thread: bool = False) -> np.ndarray:
        """Many texts, sorted by token length into batches of like length; rows in the given order.
        `progress(n)` after each batch with the number of texts it held. `one_thread`: on the
        questions' session (a question's few texts, beside other questions being answered)."""
        batch_size = batch_size or BATCH
        session = self.session if one_thread else self.batch_session
        # token ids only (a tokenizers Encoding also keeps tokens, offsets and masks: kilobytes a text)
        texts = list(texts)
        tokens = [np.array(e.ids, dtype=np.int64) for i in range(0, len(texts), 1024)
                  for e in self.tokenizer.encode_batch(texts[i:i + 1024])]
        lengths = np.array([len(t) for t in tokens])
        order = np.argsort(lengths, kind="stable")
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i in range(0, len(order), batch_size):
            rows = order[i:i + batch_size]
            width = int(lengths[rows].max())
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for r, j in enumerate(rows):
                ids[r, :lengths[j]], mask[r, :lengths[j]] = tokens[j], 1
            types = np.zeros_like(ids)  # one segment
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
            out[rows] = session.run(None, self._feed(session, feed))[0]
            if progress:
                progress(len(rows))
        return out


def export(st_model, onnx_path: Path) -> None:
    """Export a loaded SentenceTransformer (Transformer + mean pooling + normalise) to `onnx_path`."""
    import torch

    class Pooled(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.m(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids)[0]
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            v = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(v, p=2, dim=1)

    model = st_model[0].auto_model.eval()
    enc = st_model.tokenizer(["an example sentence"], return_tensors="pt")
    args = tuple(enc[k] for k in ("input_ids", "attention_mask", "token_type_ids"))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=onnx_path.parent, suffix=".onnx.tmp")
    os.close(fd)
    # torch's fused attention traces into a graph that ONNX Runtime runs about 12% slower on
    # this CPU (BBC sentences and titled paragraphs, 2 threads) than the plain one; the same
    # weights either way (the verdict below checks the vectors)
    attn = getattr(model.config, "_attn_implementation", None)
    swap = attn not in (None, "eager") and hasattr(model, "set_attn_implementation")
    try:
        if swap:
            model.set_attn_implementation("eager")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shapes the dynamic axes cover
            torch.onnx.export(Pooled(model), args, tmp, input_names=names,
                              output_names=["embedding"], opset_version=17, dynamo=False,
                              dynamic_axes={**{n: {0: "batch", 1: "tokens"} for n in names},
                                            "embedding": {0: "batch"}})
        os.replace(tmp, onnx_path)
    finally:
        if swap:
            model.set_attn_implementation(attn)  # torch keeps encoding as before
        Path(tmp).unlink(missing_ok=True)


def load(model_path: str | Path, torch_model: Callable | None = None) -> OnnxEncoder | None:
    """The ONNX encoder for this model, exporting it first (with `torch_model()`) when needed.

    None when the model is not supported, onnxruntime is missing, or the export disagrees with torch.
    """
    model_path = Path(model_path)
    max_len = _supported(model_path) if model_path.is_dir() else None
    if max_len is None:
        return None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return None
    folder = cache_dir() / "onnx" / _key(model_path)
    onnx_path, verdict = folder / "model.onnx", folder / "verdict.json"
    if verdict.exists():
        v = json.loads(verdict.read_text("utf-8"))
        return OnnxEncoder(onnx_path, model_path, max_len) if v.get("ok") and onnx_path.exists() else None
    if torch_model is None:
        return None
    st = torch_model()
    export(st, onnx_path)
    enc = OnnxEncoder(onnx_path, model_path, max_len)
    ref = st.encode(PROBES, batch_size=1, convert_to_numpy=True, normalize_embeddings=True)
    diff = max(float(np.abs(enc.encode(PROBES) - ref).max()),
               float(np.abs(enc.encode_batch(PROBES, batch_size=len(PROBES)) - ref).max()))
    ok = diff <= TOLERANCE
    tmp = folder / f".verdict.{os.getpid()}.json"
    tmp.write_text(json.dumps({"ok": ok, "max_abs_diff": diff, "tolerance": TOLERANCE,
                               "model": str(model_path)}), "utf-8")
    os.replace(tmp, verdict)
    return enc if ok else None
