"""The BBC archive as a benchmark: answer quality and warm latency, ours and txtai's, one run.

    python benchmarks/bbc.py [--index DIR] [--no-peers]

Builds (once; then reuses) an index of the 2,225 articles of ../shared/corpora/bbc-2005 under
benchmarks/data/bbc/ (or uses --index), asks every question of tests/data/bbc_questions.jsonl
(follow-ups with their history) with the second stage and with the first stage alone
(QA_RERANKER=off), and, where the second stage has its cross-encoder, without it,
interleaved question by question, and reports hit@1/hit@3 on the held-out
half (odd ids) and on all, abstention, and warm `ask` p50/p95. txtai 9.14 hybrid, in
benchmarks/.venv-peers, indexes the same sentences with the same model and answers the same
questions (their latest question alone: txtai has no follow-ups); a txtai result is right
when it is a sentence of an article that answers and holds a support text. Prints a markdown
table and writes benchmarks/out/bbc.json.

What is left out: build speed (benchmarks/bench.py), SQuAD (benchmarks/squad.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from bench import PEERS_PY, norm, pct  # noqa: E402

BBC = ROOT.parent / "shared" / "corpora" / "bbc-2005"
QUESTIONS = ROOT / "tests" / "data" / "bbc_questions.jsonl"
DATA = HERE / "data" / "bbc"
OUT = HERE / "out"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--index", default=str(DATA / "index"))
    p.add_argument("--no-peers", action="store_true")
    args = p.parse_args(argv)
    from qa import Library, rerank
    from qa.answer import answer
    from qa.evaluate import in_part, is_correct, load_questions, part_figures

    lib = Library(index_dir=args.index, seeds_dir=BBC)
    t = time.perf_counter()
    index = lib.index  # builds it the first time
    print(f"index: {len(index.entries)} articles, {len(index):,} sentences ({time.perf_counter() - t:.0f}s)",
          file=sys.stderr)
    qs = load_questions(QUESTIONS)
    model = rerank.default()
    systems = {"ours": model, "ours, first stage alone": None}
    if model is not None and model.reader is not None:
        systems = {"ours": model, "ours, ranker without the cross-encoder": model.without_reader(),
                   "ours, first stage alone": None}
    records = {s: [] for s in systems}
    lat = {s: [] for s in systems}
    lib.ask(qs[0]["question"])  # warm
    for q in qs:
        for name, m in systems.items():
            t = time.perf_counter()
            a = answer(lib.index, lib.embedder, q["question"], k=3, history=q["history"],
                       rerank=m if m is not None else False)
            lat[name].append(time.perf_counter() - t)
            rank = next((i + 1 for i, qt in enumerate(a.quotes) if is_correct(qt.text, q)), None)
            records[name].append({"id": q["id"], "answerable": bool(q["support"]), "answered": a.answered,
                                  "rank": rank, "followup": bool(q["history"])})
    res = {}
    for name in systems:
        res[name] = {part: part_figures(records[name], part) for part in ("odd", "all")}
        res[name]["ask_p50_ms"] = 1000 * pct(lat[name], 50)
        res[name]["ask_p95_ms"] = 1000 * pct(lat[name], 95)

    if not args.no_peers and Path(PEERS_PY).exists():
        DATA.mkdir(parents=True, exist_ok=True)
        corpus, qfile = DATA / "peer-corpus.jsonl", DATA / "peer-questions.jsonl"
        corpus.write_text("".join(json.dumps({"text": index.sentence_text(i)}) + "\n" for i in range(len(index))),
                          "utf-8")
        with open(qfile, "w", encoding="utf-8") as f:
            for q in qs:
                if q["support"]:
                    ctx = " ".join(norm((BBC / a).read_text("utf-8", errors="replace")) for a in q["articles"])
                    f.write(json.dumps({"question": q["question"], "support": q["support"], "context": ctx,
                                        "id": q["id"]}) + "\n")
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        r = subprocess.run([PEERS_PY, str(HERE / "bench.py"), "--peer", "txtai", str(corpus), str(qfile)],
                           capture_output=True, text=True, timeout=3600, cwd=ROOT, env=env)
        res["txtai 9.14 hybrid"] = json.loads(r.stdout.strip().splitlines()[-1]) if r.returncode == 0 else \
            {"error": (r.stderr.strip().splitlines() or ["failed"])[-1][:200]}

    lines = [f"BBC archive: {len(index.entries):,} articles, {len(index):,} sentences; "
             f"{sum(1 for q in qs if q['support'])} answerable questions ({sum(in_part(q['id'], 'odd') for q in qs if q['support'])} held out), "
             f"{sum(1 for q in qs if not q['support'])} unanswerable", "",
             "| system | held-out hit@1 | held-out hit@3 | all hit@1 | all hit@3 | follow-ups hit@1 (all) "
             "| unanswerable declined (all) | answerable declined (all) | ask p50 / p95 ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in systems:
        o, a = res[name]["odd"], res[name]["all"]
        lines.append(f"| {name} | {o['hit@1']:.3f} | {o['hit@3']:.3f} | {a['hit@1']:.3f} | {a['hit@3']:.3f} "
                     f"| {a['followups_hit@1']:.2f} | {a['declined_unanswerable']:.2f} | {a['answerable_declined']} "
                     f"| {res[name]['ask_p50_ms']:.1f} / {res[name]['ask_p95_ms']:.1f} |")
    tx = res.get("txtai 9.14 hybrid")
    if tx and "error" not in tx:
        lines.append(f"| txtai 9.14 hybrid (first result only) | | | {tx['p_at_1']:.3f} | | | | "
                     f"| {tx['query_p50_ms']:.1f} / {tx['query_p95_ms']:.1f} |")
        res["ratio_p50_ours_to_txtai"] = res["ours"]["ask_p50_ms"] / tx["query_p50_ms"]
        lines.append(f"\nwarm ask p50, ours / txtai: {res['ratio_p50_ours_to_txtai']:.2f}")
    elif tx:
        lines.append(f"\ntxtai: {tx['error']}")
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bbc.json").write_text(json.dumps({**res, "table": table}, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
