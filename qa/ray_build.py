"""A build's per-article work on Ray: `python -m qa build --ray [ADDRESS]` (and `add --ray`).

`RayEngine` runs the steps of `qa.pipeline` with Ray Data instead of this machine's
process pool: parsing the files' bytes and preparing each article (sentence spans,
who said each sentence) as `map_batches` tasks, and embedding in `map_batches` over
a pool of actors that each load the model once (ONNX Runtime on the CPUs an actor
holds; on a cluster with GPUs, one actor per GPU running sentence-transformers there).
The driver keeps everything else as it is without Ray: reading and storing the article
files, the embedding cache (only texts it does not hold are sent), and writing one
ordinary index generation, atomically, with the same manifest. Results come back in
the order they were sent, so the index is the one a single process writes.

With no address a local Ray runtime of its own is started on this machine's cores
(on the loopback interface); with one (`auto`, `HEAD:6379`, or `RAY_ADDRESS`) the
driver joins that cluster from one of its nodes. `ray://` (Ray Client) is refused with
a clear message: Ray Data does not run through it. The nodes need the requirements
(the same versions); the `qa` package travels with the job, and the workers read
nothing from the driver's disk: file bytes travel through Ray.

Ray is an optional extra (`requirements-ray.txt`); nothing imports this module unless
`--ray` is used. What is left out: serving from shards (a later step), and anything the
index does with the results (`qa.index`).
"""

from __future__ import annotations

import os
import pickle
import warnings
from typing import Sequence

import numpy as np

from . import pipeline
from .progress import Progress

TEXT_BATCH = 512  # texts per embedding task on CPU actors (sorted by length before they are cut)
GPU_BATCH = 256  # texts per forward pass on a GPU actor
ARTICLE_BATCH = 32  # articles per parse or prepare task
ACTOR_CPUS = 4  # CPUs (ONNX Runtime threads) per embedding actor on CPU nodes


def _require_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise RuntimeError("--ray needs Ray: pip install -r requirements-ray.txt") from e
    return ray


def _parse_batch(batch: dict) -> dict:
    out = [pickle.dumps(pipeline.parse((str(n), bytes(d)))) for n, d in zip(batch["name"], batch["data"])]
    return {"i": batch["i"], "out": np.array(out, dtype=object)}


def _prepare_batch(batch: dict) -> dict:
    out = [pickle.dumps(pipeline.prepare(pickle.loads(a))) for a in batch["article"]]
    return {"i": batch["i"], "out": np.array(out, dtype=object)}


class _Embed:
    """A Ray Data actor: the model loaded once, then batches of texts embedded. Configured by
    class attributes (`_embed_class`), not constructor arguments, which Ray keeps in its object
    store and cannot give back to a restarted actor."""
    model, threads, gpu, bf16 = "", 1, False, False

    def __init__(self):
        from .embed import Embedder, resolve_model_path
        os.environ["QA_THREADS"] = str(self.threads)
        if self.gpu:
            from sentence_transformers import SentenceTransformer
            self.st = SentenceTransformer(resolve_model_path(self.model), device="cuda")
        else:
            self.embedder = Embedder(self.model, bf16_worker=False)  # this actor's process is its own

    def __call__(self, batch: dict) -> dict:
        texts = [str(t) for t in batch["text"]]
        if self.gpu:
            v = self.st.encode(texts, batch_size=GPU_BATCH, convert_to_numpy=True, normalize_embeddings=True,
                               show_progress_bar=False)
        else:
            v = self.embedder._encode(texts, None, bf16=self.bf16)
        return {"i": batch["i"], "v": np.asarray(v, dtype=np.float32)}


class RayEngine:
    """`qa.pipeline`'s engine interface (parse, prepare, embed, close) on a Ray cluster."""

    read_block = 20_000  # seed files read per Ray job: fewer, larger jobs
    # texts per embedding job: each starts a pool of actors that load the model (torch and the
    # bfloat16 check: ~5 s), so fewer, larger jobs; ~200 MB of texts and vectors on the driver
    embed_block = 131_072

    def __init__(self, address: str | None, embedder):
        address = address or os.environ.get("RAY_ADDRESS") or None
        if address and address.startswith("ray://"):
            # Ray Data's executor needs a driver inside the cluster; through Ray Client it fails
            # deep inside Ray ("'Worker' object has no attribute 'core_worker'", Ray 2.60).
            raise RuntimeError(f"--ray {address}: Ray Data does not run through Ray Client (ray://); run the build "
                               "on a node of the cluster with --ray auto (or HEAD:6379), or submit it there: "
                               "ray job submit --address http://HEAD:8265 -- python -m qa build --ray auto ...")
        if address is None:
            # A runtime for this machine alone listens on the loopback interface, not the network:
            # Ray reads this (historically named) switch when it is imported.
            os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        ray = _require_ray()
        self.embedder = embedder
        self._started = False
        if not ray.is_initialized():
            from pathlib import Path
            offline = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
                       **{k: os.environ[k] for k in ("QA_BF16",) if k in os.environ}}  # the driver's choice
            kwargs = dict(include_dashboard=False, logging_level="error", log_to_driver=False,
                          configure_logging=True)
            if address is None:  # a local runtime: its workers import this checkout
                from .onnx_encoder import threads
                root = str(Path(__file__).resolve().parent.parent)
                path = os.pathsep.join(x for x in (root, os.environ.get("PYTHONPATH")) if x)
                kwargs["num_cpus"] = threads()
                kwargs["runtime_env"] = {"env_vars": {"PYTHONPATH": path, **offline}}
            else:  # a cluster: this package travels with the job (its nodes need the requirements)
                kwargs.pop("include_dashboard")
                kwargs["runtime_env"] = {"py_modules": [str(Path(__file__).resolve().parent)], "env_vars": offline}
            # "local": a runtime of its own, even where another Ray runtime runs on this machine
            ray.init(address=address or "local", **kwargs)
            self._started = True
        import logging
        for name in ("ray", "ray.data"):  # Ray Data's lines about every job: ours say it instead
            logging.getLogger(name).setLevel(logging.ERROR)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = False  # ours, from the driver, instead
        ctx.enable_operator_progress_bars = False
        ctx.execution_options.preserve_order = True
        res = ray.cluster_resources()
        self.cpus = max(1, int(res.get("CPU", 1)))
        self.gpus = int(res.get("GPU", 0))

    # ---------------------------------------------------------------- steps
    def _run(self, rows: list[dict], fn, advance, key: str = "out", **kwargs) -> list:
        """Rows through `fn` with map_batches; results put back in the order of the rows;
        `advance(n)` as each batch of n comes back."""
        import ray.data
        out: list = [None] * len(rows)
        if not rows:
            return out
        ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows) // 4 or 1, 8 * self.cpus)))
        with warnings.catch_warnings():  # max_restarts has no named parameter yet in Ray 2.60
            warnings.filterwarnings("ignore", message=".*ray_remote_args.*deprecated")
            ds = ds.map_batches(fn, batch_format="numpy", **kwargs)
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            for i, x in zip(batch["i"].tolist(), batch[key]):
                out[i] = x
            if advance:
                advance(len(batch["i"]))
        return out

    def parse(self, items: Sequence[tuple[str, bytes]], progress: Progress) -> list:
        rows = [{"i": i, "name": n, "data": d} for i, (n, d) in enumerate(items)]
        return [pickle.loads(x) for x in self._run(rows, _parse_batch, progress.advance, batch_size=ARTICLE_BATCH)]

    def prepare(self, articles: Sequence, progress: Progress) -> list[pipeline.Prepared]:
        rows = [{"i": i, "article": pickle.dumps(a)} for i, a in enumerate(articles)]
        return [pickle.loads(x) for x in self._run(rows, _prepare_batch, progress.advance, batch_size=ARTICLE_BATCH)]

    def _embed_remote(self, texts: list[str], progress, bf16: bool | None = None) -> np.ndarray:
        """Texts the cache does not hold, embedded by a pool of actors; sorted by length first so
        each batch holds texts of like length (little padding), rows back in the given order."""
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        rows = [{"i": i, "text": texts[i]} for i in order]
        import ray.data
        if self.gpus:
            cls = type("Embed", (_Embed,), {"model": self.embedder.name, "threads": 1, "gpu": True})
            kwargs = dict(compute=ray.data.ActorPoolStrategy(size=self.gpus), num_gpus=1, batch_size=GPU_BATCH * 4)
        else:
            # ONNX Runtime threads in one actor (QA_RAY_ACTOR_CPUS); more actors beyond that
            per_actor = min(self.cpus, int(os.environ.get("QA_RAY_ACTOR_CPUS") or 0) or ACTOR_CPUS)
            # bfloat16 or not as the build decided for all its texts (qa.embed.Embedder.bf16_for);
            # each actor then uses it where its CPU computes it natively (QA_BF16, qa.bf16_encoder)
            if bf16 is None:
                bf16 = pipeline.bf16_for(self.embedder, len(texts))
            cls = type("Embed", (_Embed,), {"model": self.embedder.name, "threads": per_actor, "gpu": False,
                                            "bf16": bf16})
            kwargs = dict(compute=ray.data.ActorPoolStrategy(size=max(1, self.cpus // per_actor)),
                          num_cpus=per_actor, batch_size=TEXT_BATCH)
        # A lost actor fails the build (the previous index stays) rather than restart half-way.
        kwargs["max_restarts"] = 0
        got = self._run(rows, cls, progress, key="v", **kwargs)
        return np.ascontiguousarray(np.stack(got), dtype=np.float32).reshape(len(texts), -1)

    def embed(self, texts: list[str], progress: Progress, bf16: bool | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        if not pipeline.encode_takes(self.embedder, "compute"):  # no cache hooks: all goes to the cluster
            return self._embed_remote(texts, progress.advance, bf16)
        return np.asarray(self.embedder.encode(texts, progress=progress.advance,
                                               compute=lambda t, p: self._embed_remote(t, p, bf16)),
                          dtype=np.float32)

    def close(self) -> None:
        if self._started:
            import ray
            ray.shutdown()
            self._started = False

