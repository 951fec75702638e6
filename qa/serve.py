"""Serving a shard set on Ray Serve: one deployment per shard, the question encoder on its own,
and an ingress that fans out, merges and answers; and the client the CLI, `qa.ask` and the web
chat use when `QA_SERVE` (or `--serve`) names a running one.

    reader ──> Ingress (replicas) ──> Encoder (replicas; GPU nodes where there are)
                  │  answer path, once, on merged candidates (`qa.answer`)
                  ├──> shard-00 (replicas) ┐ FAISS search, BM25 scores and postings,
                  ├──> shard-01 (replicas) ├ vectors of given rows: each replica maps
                  └──> shard-NN (replicas) ┘ one shard of the generation (`qa.shards`)

The ingress is the in-process shard set (`qa.shards.ShardedIndex`) whose shards are remote:
it holds the small per-sentence tables (32 bytes a sentence, fetched from the shards when it
starts) and calls the shards for what is large: a question's vector search fans out to every
shard at once, BM25 scores and postings and the candidates' vectors are read from the shard
that holds them. The answers are those of the local index (tests/test_serve.py). Every
deployment serves one generation, named when the app is built: a replica restarted after a
crash loads that generation or fails to start, so it never answers from other data. A call
to a shard that fails is tried again (the controller restarts a dead replica); after
`RETRIES` tries the question fails with a clear error (`ShardUnavailable`), never an answer
from part of the archive. The second stage (LightGBM over features) runs in the ingress:
it needs the index's tables, and a CPU predicts it in a millisecond.

Deploy: `python -m qa serve --index DIR` (a local runtime, or `--ray ADDRESS`), or Ray's own
`serve run qa.serve:app index_dir=DIR` / a config file naming `qa.serve:app` (README,
"Scaling out"). Every node needs the index folder at the same path (a shared file system or
a copy). Ray Serve comes from requirements-ray.txt; this module is imported only for it.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from pathlib import Path

import numpy as np
import ray
from ray import serve

from . import index as ix
from . import index_files
from . import shards as sh
from . import store

APP = "qa"
RETRIES = 4  # tries of one shard call; waits 0.5, 1, 2 s between them (a replica restarts in ~1-2 s)
CALL_TIMEOUT = 60.0  # seconds one shard call may take
_WHICH = ("sent", "para")


class ShardUnavailable(store.IndexFileError):
    """A shard did not answer: the question fails instead of being answered from part of the archive."""


# ------------------------------------------------------------------ deployments

class ShardService:
    """One shard of one generation, memory-mapped as `qa.index_files.load` maps it."""

    def __init__(self, index_dir: str, shard: int, data: str):
        manifest = store.read_manifest(Path(index_dir))
        if manifest is None or manifest["data"] != data or not manifest.get("shards"):
            raise store.IndexFileError(f"{index_dir}: generation {data} is no longer the index's (redeploy)")
        self.data, self.shard = data, shard
        self.index = index_files.load(Path(index_dir) / data / manifest["shards"][shard]["dir"],
                             sh.shard_manifest(manifest, shard))
        self.index.faiss_para  # built now if an old generation lacks it, not on the first question

    def _bm(self, which: str):
        return self.index.bm25_sent if which == "sent" else self.index.bm25_para

    def meta(self) -> dict:
        """What the ingress holds of this shard: its tables and the sizes of what stays here."""
        x = self.index
        ix.pack_who(x)
        return {"data": self.data, "shard": self.shard, "model": x.model, "dim": x.dim,
                "entries": [{"origin": e.origin, "file": e.file, **e.article.to_record()} for e in x.entries],
                "sent": x.sent, "para": x.para, "who": x.who, "who_names": x.who_names,
                "hub": sh.sentence_hubness(x),
                "faiss": [(int(f.ntotal), int(f.d), sh.vectors.kind_of(f)) for f in (x.faiss, x.faiss_para)],
                "bm25": [{"num_docs": int(b.scores["num_docs"]), "sorted": sh._postings_sorted(b),
                          "vocab": list(b.vocab_dict)} for b in (x.bm25_sent, x.bm25_para)]}

    def search(self, which: str, q: np.ndarray, k: int):
        fx = self.index.faiss if which == "sent" else self.index.faiss_para
        return fx.search(np.ascontiguousarray(q, dtype=np.float32), k)

    def first(self, which: str, q: np.ndarray, k: int, token_lists: list) -> tuple:
        """A question's first call: the vector search, and BM25 scores of sentences and paragraphs
        for the token lists given (None: not asked)."""
        d, i = self.search(which, q, k)
        return d, i, [None if t is None else self.scores(w, t) for w, t in zip(_WHICH, token_lists)]

    def scores(self, which: str, tokens: list[str]) -> np.ndarray:
        return sh.scores_of(self._bm(which), tokens)

    def postings(self, which: str, terms: list[str]) -> list[np.ndarray]:
        from .search import _posting_list
        return [np.asarray(_posting_list(self._bm(which), t)) for t in terms]

    def vectors(self, which: str, rows) -> np.ndarray:
        vecs = self.index.sent_vecs if which == "sent" else self.index.para_vecs
        return np.asarray(vecs[rows], dtype=np.float32)


class EncoderService:
    """The question encoder (`qa.embed.Embedder`: ONNX Runtime for questions)."""

    def __init__(self, model: str | None = None):
        from .embed import Embedder
        self.embedder = Embedder(model)
        self.embedder.encode(["warm up"])

    def info(self) -> tuple[str, int]:
        return self.embedder.name, self.embedder.dim

    def encode(self, texts: list[str]) -> np.ndarray:
        return np.asarray(self.embedder.encode(texts), dtype=np.float32)


def _call(handle, label: str, method: str, *args):
    """`handle.method(*args)`, tried again while the replica behind it is dying or restarting."""
    last = None
    for attempt in range(RETRIES):
        try:
            return getattr(handle, method).remote(*args).result(timeout_s=CALL_TIMEOUT)
        except (ray.exceptions.RayActorError, ray.exceptions.ActorUnavailableError, TimeoutError,
                ray.exceptions.GetTimeoutError) as e:
            last = e
        except ray.exceptions.RayTaskError as e:  # it ran and failed: trying again changes nothing
            raise ShardUnavailable(f"{label} failed: {str(e.cause if e.cause else e).splitlines()[0][:200]}") from e
        except ray.exceptions.RayError as e:  # the request was lost on the way (e.g. the replica went)
            last = e
        if attempt < RETRIES - 1:
            time.sleep(0.5 * 2 ** attempt)
    raise ShardUnavailable(f"{label} did not answer after {RETRIES} tries ({type(last).__name__}); "
                           "no answer rather than one from part of the archive")


class _RemoteFaiss:
    def __init__(self, handle, label, which, ntotal, d, kind):
        self.handle, self.label, self.which = handle, label, which
        self.ntotal, self.d, self.qa_kind = ntotal, d, kind

    def search(self, q, k):
        return _call(self.handle, self.label, "search", self.which, q, k)

    def first(self, q, k, token_lists):
        return _call(self.handle, self.label, "first", self.which, q, k, token_lists)


class _RemoteBM25:
    def __init__(self, handle, label, which, info):
        self.handle, self.label, self.which = handle, label, which
        self.scores = {"num_docs": info["num_docs"]}
        self.vocab_dict = frozenset(info["vocab"])
        self._qa_sorted, self._qa_counts = info["sorted"], None

    def get_scores(self, tokens):
        return _call(self.handle, self.label, "scores", self.which, list(tokens))

    def posting_lists(self, terms):
        return _call(self.handle, self.label, "postings", self.which, list(terms))


class _RemoteVectors(sh.vectors.RowMatrix):
    """A shard's vectors, read by row from it. Rows read are kept (up to KEPT): a question reads
    its candidates' vectors for the first stage and again for the second."""

    KEPT = 50_000  # rows (75 MB at 384 dimensions)

    def __init__(self, handle, label, which, n, dim):
        self.handle, self.label, self.which, self.shape = handle, label, which, (n, dim)
        self._kept: dict[int, np.ndarray] = {}

    def _take(self, rows: np.ndarray) -> np.ndarray:
        held = self._kept
        have = {r: held[r] for r in set(rows.tolist()) if r in held}
        missing = sorted(set(rows.tolist()) - have.keys())
        if missing:
            got = dict(zip(missing, _call(self.handle, self.label, "vectors", self.which,
                                          np.asarray(missing, dtype=np.int64))))
            have.update(got)
            kept = held if len(held) + len(got) <= self.KEPT else {}
            kept.update(got)
            self._kept = kept  # one swap: threads reading at once see the old or the new dict
        return np.stack([have[r] for r in rows.tolist()])


def _remote_shard(handle, meta: dict) -> ix.Index:
    from .articles import Article
    label = f"shard {meta['shard']:02d}"
    (ns, d, ks), (np_, _, kp) = meta["faiss"]
    shard = ix.Index(model=meta["model"], dim=meta["dim"],
                     entries=[ix.Entry(Article.from_record(r), r["origin"], r["file"]) for r in meta["entries"]],
                     sent=meta["sent"], para=meta["para"],
                     sent_vecs=_RemoteVectors(handle, label, "sent", ns, d),
                     para_vecs=_RemoteVectors(handle, label, "para", np_, d),
                     bm25_sent=_RemoteBM25(handle, label, "sent", meta["bm25"][0]),
                     bm25_para=_RemoteBM25(handle, label, "para", meta["bm25"][1]),
                     who=meta["who"], who_names=meta["who_names"], sent_hub=meta["hub"],
                     _faiss=_RemoteFaiss(handle, label, "sent", ns, d, ks),
                     _faiss_para=_RemoteFaiss(handle, label, "para", np_, d, kp))
    return shard


class _RemoteEmbedder:
    def __init__(self, handle):
        self.handle = handle
        self.name, self.dim = _call(handle, "the encoder", "info")

    def encode(self, texts, **_):
        return _call(self.handle, "the encoder", "encode", list(texts))

    encode_few = encode  # the encoder service keeps no cache


class Ingress:
    """Answers questions over the shard set; its index is built on the first request (the shards'
    tables fetched from them), so a slow shard start does not fail the deployment."""

    def __init__(self, shard_handles: list, encoder_handle, data: str):
        self.shard_handles, self.encoder_handle, self.data = list(shard_handles), encoder_handle, data
        self._index, self._embedder, self._lock = None, None, threading.Lock()

    def _ready(self):
        with self._lock:
            if self._index is None:
                metas = [_call(h, f"shard {i:02d}", "meta") for i, h in enumerate(self.shard_handles)]
                if any(m["data"] != self.data or m["shard"] != i for i, m in enumerate(metas)):
                    raise ShardUnavailable("the shards serve another generation than the ingress (redeploy)")
                self._embedder = _RemoteEmbedder(self.encoder_handle)
                self._index = sh.ShardedIndex.of([_remote_shard(h, m) for h, m in zip(self.shard_handles, metas)])
        return self._index, self._embedder

    def ask(self, question: str, k: int = 3, history=None, **filters):
        from .answer import answer
        index, embedder = self._ready()
        return answer(index, embedder, question, k=k, history=history, **filters)

    def find(self, query: str = "", sort: str = "newest", page: int = 1, size: int | None = None):
        from . import catalog
        index, _ = self._ready()
        return catalog.find(index, query, sort, page, **({"size": size} if size else {}))

    def get(self, article_id: str):
        index, _ = self._ready()
        return index.article_by_id(article_id)

    def count(self) -> tuple[int, int]:
        index, _ = self._ready()
        return len(index.entries), len(index)

    async def __call__(self, request):
        """HTTP: POST {"question", "k"?, "history"?, "speaker"?, ...} -> Answer.to_dict() as JSON."""
        from .answer import QuestionError
        try:
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("question"), str):
                raise QuestionError('send a JSON object with a "question"')
            filters = {f: body[f] for f in ("speaker", "source", "since", "until") if body.get(f)}
            ans = await asyncio.to_thread(self.ask, body["question"], int(body.get("k", 3)), body.get("history"),
                                          **filters)
            return ans.to_dict()
        except (ValueError, TypeError, QuestionError) as e:
            from starlette.responses import JSONResponse
            return JSONResponse({"error": str(e)}, status_code=400)


def shard_set(index_dir: str | Path) -> dict:
    """The manifest of the shard set in `index_dir`; IndexFileError when there is none."""
    manifest = store.read_manifest(Path(index_dir))
    if manifest is None or not manifest.get("shards"):
        raise store.IndexFileError(f"{index_dir}: not a shard set (build it with --shards N)")
    return manifest


def app(args: dict):
    """The Serve application over the shard set in `args["index_dir"]` (`serve run qa.serve:app
    index_dir=DIR`). Optional: `replicas` (of each shard), `ingress_replicas`, `encoder_replicas`,
    `cpus` (CPUs a replica reserves, default 0.1: the replicas of this machine share its cores),
    `encoder_gpus` (GPUs an encoder replica reserves)."""
    index_dir = str(Path(args["index_dir"]).resolve())
    manifest = shard_set(index_dir)
    data, cpus = manifest["data"], float(args.get("cpus", 0.1))
    opts = {"ray_actor_options": {"num_cpus": cpus}}
    shard = serve.deployment(ShardService)
    handles = [shard.options(name=sh.SHARD_DIR.format(i), num_replicas=int(args.get("replicas", 1)), **opts)
               .bind(index_dir, i, data) for i in range(len(manifest["shards"]))]
    encoder = serve.deployment(EncoderService).options(
        name="encoder", num_replicas=int(args.get("encoder_replicas", 1)),
        ray_actor_options={"num_cpus": cpus, "num_gpus": float(args.get("encoder_gpus", 0))}
    ).bind(manifest["model"])
    return serve.deployment(Ingress).options(name="ingress", num_replicas=int(args.get("ingress_replicas", 1)),
                                             **opts).bind(handles, encoder, data)


def _connect(address: str | None) -> None:
    """Join the Ray at `address` (None: start a local runtime), unless this process already is on one."""
    if not ray.is_initialized():
        ray.init(address=address, ignore_reinit_error=True, logging_level="ERROR", log_to_driver=False)


def run(index_dir: str | Path, address: str | None = None, name: str = APP, route_prefix: str | None = "/",
        http: dict | None = None, **options):
    """Deploy the app on the Ray at `address` (None: a local runtime); returns its ingress handle.
    `http`: Serve's HTTP options (host, port) when this starts Serve."""
    _connect(address)
    if http:
        serve.start(http_options=http)
    return serve.run(app({"index_dir": str(index_dir), **options}), name=name, route_prefix=route_prefix)


class Served:
    """A served archive used as the CLI and the web chat use a `qa.Library` (ask, find, get):
    `address` is Ray's (`ray://HEAD:10001`, `auto`; `local` or None: the Ray this process is on,
    else the one running on this machine)."""

    seeds_dir = Path(os.devnull)  # no seeds folder here: the web chat's examples come from the archive

    def __init__(self, address: str | None = None, name: str = APP):
        _connect(address if address not in (None, "", "local") else "auto")
        try:
            self.handle = serve.get_app_handle(name)
        except Exception as e:  # noqa: BLE001 - Ray says it several ways; one line says what to do
            raise ShardUnavailable(f"no '{name}' app is served on this Ray cluster ({type(e).__name__}); "
                                   "start one with: python -m qa serve --index DIR") from None

    def _call(self, method: str, *args, **kwargs):
        try:
            return getattr(self.handle, method).remote(*args, **kwargs).result(timeout_s=CALL_TIMEOUT * RETRIES)
        except ray.exceptions.RayTaskError as e:
            cause = e.cause if e.cause is not None else e
            if isinstance(cause, (ValueError, KeyError)):  # the question or a filter was refused
                raise cause from None
            raise ShardUnavailable(f"the served archive did not answer: {str(cause).splitlines()[0][:300]}") from None
        except (ray.exceptions.RayError, TimeoutError) as e:
            raise ShardUnavailable(f"the served archive did not answer ({type(e).__name__})") from None

    def ask(self, question: str, k: int = 3, history=None, **filters):
        return self._call("ask", question, k, history, **{f: v for f, v in filters.items() if v})

    def find(self, query: str = "", sort: str = "newest", page: int = 1, size: int | None = None):
        return self._call("find", query, sort, page, size)

    def get(self, article_id: str):
        return self._call("get", article_id)

    def count(self) -> tuple[int, int]:
        """(articles, sentences) served."""
        return self._call("count")
