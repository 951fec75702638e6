"""Shards: what cutting an archive into shards costs a question, in one process and on Ray Serve.

    python benchmarks/shards.py [--index DIR] [--shards 3] [--seconds 20] [--clients 4] [--json]

DIR (default benchmarks/data/bbc/index, built by benchmarks/bbc.py from the 2,225 BBC
articles; built here when missing) is copied aside and cut into `--shards` shards (no
re-embedding), then:

1. **Fan-out in one process**: every question of tests/data/bbc_questions.jsonl asked of the
   single index and of the shard set, interleaved, 3 rounds; p50/p95 of each and of the
   per-question difference, and how many answers differ (they must not).
2. **Throughput**: `--clients` closed-loop threads asking for `--seconds` each of: the single
   index in this process; the shard set in this process; a local Ray Serve of the shard set
   with 1 and with 2 replicas of every deployment (shards, encoder, ingress), asked through its
   handle (`qa.serve.Served`, what the CLI and the web chat use). Requests/s, p50/p95, errors.
   The hop: the served p50 of one client minus the in-process shard set's.

Everything shares this machine's cores (Ray's controller, proxy and replicas, and the client
threads), so compare rows within one run. Writes benchmarks/out/shards.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
BBC = ROOT.parent / "shared" / "corpora" / "bbc-2005"


def pct(xs, q) -> float:
    return float(np.percentile(np.asarray(xs) * 1e3, q)) if len(xs) else float("nan")


def closed_loop(ask, questions, seconds: float, clients: int) -> dict:
    """`clients` threads asking in turn for `seconds`; latencies and errors."""
    lat, errors, stop = [], [], time.perf_counter() + seconds
    lock = threading.Lock()

    def user(u):
        i = u
        while time.perf_counter() < stop:
            q = questions[i % len(questions)]
            t = time.perf_counter()
            try:
                ask(q["question"], q.get("history"))
                with lock:
                    lat.append(time.perf_counter() - t)
            except Exception as e:  # noqa: BLE001 - counted and reported
                with lock:
                    errors.append(f"{type(e).__name__}: {e}"[:120])
            i += clients

    t0 = time.perf_counter()
    threads = [threading.Thread(target=user, args=(u,)) for u in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {"requests": len(lat), "rps": len(lat) / wall, "p50_ms": pct(lat, 50), "p95_ms": pct(lat, 95),
            "errors": len(errors), "first_error": errors[0] if errors else None}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--index", default=str(HERE / "data" / "bbc" / "index"))
    p.add_argument("--seeds", default=str(BBC))
    p.add_argument("--questions", default=str(ROOT / "tests" / "data" / "bbc_questions.jsonl"))
    p.add_argument("--shards", type=int, default=3)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--clients", type=int, default=4)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    from qa import Library
    from qa.embed import Embedder
    questions = [json.loads(x) for x in Path(args.questions).read_text("utf-8").splitlines() if x.strip()]
    embedder = Embedder()
    one = Library(index_dir=args.index, seeds_dir=args.seeds, embedder=embedder)
    one.index  # built the first time
    work = Path(tempfile.mkdtemp(prefix="qa-shards-"))
    try:
        d = work / "index"
        shutil.copytree(args.index, d, ignore=shutil.ignore_patterns("cache"))
        t = time.perf_counter()
        Library(index_dir=d, seeds_dir=args.seeds, embedder=embedder, shards=args.shards).build()
        cut_s = time.perf_counter() - t
        sharded = Library(index_dir=d, seeds_dir=args.seeds, embedder=embedder)
        n_shards = len(sharded.index.shards)
        out = {"articles": len(one.index.entries), "sentences": len(one.index), "shards": n_shards,
               "cut_seconds": cut_s, "shard_sentences": [len(s) for s in sharded.index.shards]}

        # 1. fan-out in one process
        for q in questions[:10]:
            one.ask(q["question"]), sharded.ask(q["question"])
        ta, tb, differ = [], [], 0
        for _ in range(3):
            for q in questions:
                t = time.perf_counter()
                x = one.ask(q["question"], history=q.get("history"))
                ta.append(time.perf_counter() - t)
                t = time.perf_counter()
                y = sharded.ask(q["question"], history=q.get("history"))
                tb.append(time.perf_counter() - t)
                differ += json.dumps(x.to_dict(), sort_keys=True) != json.dumps(y.to_dict(), sort_keys=True)
        diff = np.asarray(tb) - np.asarray(ta)
        out["in_process"] = {"questions": len(ta), "answers_differ": differ,
                             "one_p50_ms": pct(ta, 50), "one_p95_ms": pct(ta, 95),
                             "sharded_p50_ms": pct(tb, 50), "sharded_p95_ms": pct(tb, 95),
                             "overhead_p50_ms": float(np.median(diff) * 1e3),
                             "overhead_p95_ms": float(np.percentile(diff, 95) * 1e3)}
        print(f"in one process, {n_shards} shards: {json.dumps(out['in_process'])}", flush=True)

        # 2. throughput
        rows = {}

        def local(lib):
            return lambda q, h: lib.ask(q, history=h)
        rows["one process, single index"] = closed_loop(local(one), questions, args.seconds, args.clients)
        rows[f"one process, {n_shards} shards"] = closed_loop(local(sharded), questions, args.seconds, args.clients)
        rows[f"one process, {n_shards} shards, 1 client"] = closed_loop(local(sharded), questions, args.seconds, 1)
        import ray
        from ray import serve
        from qa import serve as qs
        ray.init(include_dashboard=False, logging_level="ERROR", log_to_driver=False)
        try:
            for replicas in (1, 2):
                t = time.perf_counter()
                qs.run(d, route_prefix=None, replicas=replicas, ingress_replicas=replicas, encoder_replicas=replicas)
                client = qs.Served()
                for q in questions[:10]:
                    client.ask(q["question"])
                start_s = time.perf_counter() - t
                ask = lambda q, h: client.ask(q, history=h)  # noqa: E731
                rows[f"Ray Serve, {replicas} replica(s) each, 1 client"] = closed_loop(ask, questions, args.seconds, 1)
                rows[f"Ray Serve, {replicas} replica(s) each"] = {
                    **closed_loop(ask, questions, args.seconds, args.clients), "deploy_and_warm_s": start_s}
                serve.delete(qs.APP)
        finally:
            serve.shutdown()
            ray.shutdown()
        out["throughput"] = rows
        out["hop_p50_ms"] = rows["Ray Serve, 1 replica(s) each, 1 client"]["p50_ms"] - \
            rows[f"one process, {n_shards} shards, 1 client"]["p50_ms"]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    lines = [f"BBC archive ({out['articles']:,} articles, {out['sentences']:,} sentences) cut into {n_shards} shards "
             f"({', '.join(f'{n:,}' for n in out['shard_sentences'])} sentences) in {out['cut_seconds']:.1f} s",
             "", f"In one process ({out['in_process']['questions']} questions, interleaved): single index p50 "
             f"{out['in_process']['one_p50_ms']:.1f} ms, p95 {out['in_process']['one_p95_ms']:.1f}; shard set p50 "
             f"{out['in_process']['sharded_p50_ms']:.1f}, p95 {out['in_process']['sharded_p95_ms']:.1f}; fan-out "
             f"overhead p50 {out['in_process']['overhead_p50_ms']:+.2f} ms; answers that differ: "
             f"{out['in_process']['answers_differ']}", "",
             f"| {args.clients} closed-loop clients unless said ({args.seconds:.0f} s each) | req/s | p50 ms | p95 ms | errors |",
             "|---|---|---|---|---|"]
    lines += [f"| {k} | {v['rps']:.1f} | {v['p50_ms']:.0f} | {v['p95_ms']:.0f} | {v['errors']} |" for k, v in rows.items()]
    lines += ["", f"Ray Serve hop (1 client, p50, served minus in-process shard set): {out['hop_p50_ms']:.0f} ms"]
    print("\n".join(lines))
    (HERE / "out").mkdir(exist_ok=True)
    (HERE / "out" / "shards.json").write_text(json.dumps(out, indent=1), "utf-8")
    if args.json:
        print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
