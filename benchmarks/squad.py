"""SQuAD as a quote-retrieval benchmark, the way ReQA uses it.

    python benchmarks/squad.py [--data PATH] [--limit N] [--k 10]

Every SQuAD paragraph goes into one corpus (one article file per title,
paragraphs kept, under benchmarks/data/squad/), every question is asked
against the whole corpus, and a quote is correct when it lies inside the
question's gold paragraph and contains one of its answer texts. The index is
built once and cached (rebuilt only when the articles change). Ours, dense
only and BM25 only are measured in the same run; the table is printed as
markdown and written with the details to benchmarks/out/squad.json.

What is left out: tuning. `--dump` writes the per-question candidate features
that an offline sweep needs; the weights themselves live in qa/search.py.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

from qa.search import WEIGHTS  # noqa: E402

DATA = ROOT.parent / "shared" / "eval" / "squad-dev-public.json"
WORK = HERE / "data" / "squad"
OUT = HERE / "out"

# Single-signal baselines: fused by the same code with the other weights at zero.
_OFF = dict.fromkeys(WEIGHTS, 0.0)
BASELINES = {"dense only": {**_OFF, "dense": 1.0}, "BM25 only": {**_OFF, "lexical": 1.0}}
PUBLISHED = [  # (system, P@1, MRR@10) on SQuAD dev, sentence units, whole corpus, same MiniLM
    ("published: dense only (MiniLM)", 0.59, 0.69),
    ("published: BM25 only", 0.62, 0.69),
    ("published: RRF of the two", 0.64, 0.73),
    ("published: txtai 9.14 hybrid", 0.71, 0.78),
    ("published: USE-QA (full dev set)", 0.561, None),
]


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def convert(data_path: Path, work: Path = WORK) -> tuple[Path, list[dict]]:
    """Write one markdown article per SQuAD title and return (folder, questions)."""
    squad = json.loads(Path(data_path).read_text("utf-8"))
    art_dir = work / "articles"
    art_dir.mkdir(parents=True, exist_ok=True)
    questions, wanted = [], set()
    for n, art in enumerate(squad["data"]):
        title = art["title"].replace("_", " ")
        paras = [_norm(p["context"]) for p in art["paragraphs"]]
        name = f"{n:03d}_{re.sub(r'[^A-Za-z0-9]+', '_', art['title']).strip('_')}.md"
        text = f"# {title}\n\n" + "\n\n".join(paras) + "\n"
        path = art_dir / name
        wanted.add(name)
        if not path.exists() or path.read_text("utf-8") != text:
            path.write_text(text, "utf-8")
        for p, ctx in zip(art["paragraphs"], paras):
            for qa in p["qas"]:
                support = sorted({_norm(a["text"]) for a in qa["answers"] if a["text"].strip()})
                questions.append({"id": qa["id"], "question": qa["question"], "support": support,
                                  "context": ctx})
    for stale in art_dir.glob("*.md"):
        if stale.name not in wanted:
            stale.unlink()
    with open(work / "questions.jsonl", "w", encoding="utf-8") as f:
        for q in questions:
            f.write(json.dumps(q, ensure_ascii=False) + "\n")
    return art_dir, questions


class CachedEmbedder:
    """The bundled embedder, remembering every vector: the three systems share query vectors."""

    def __init__(self, inner):
        self.inner, self.cache = inner, {}

    @property
    def name(self):
        return self.inner.name

    @property
    def dim(self):
        return self.inner.dim

    def bf16_for(self, n: int) -> bool:
        return self.inner.bf16_for(n)

    def prime(self, texts: list[str], path: Path | None = None) -> None:
        """Embed `texts` once; with `path`, keep the vectors there for the next run."""
        import numpy as np
        if path is not None and path.exists():
            d = np.load(path)
            if str(d["model"]) == self.name:
                self.cache.update(zip(d["texts"].tolist(), d["vecs"]))
        todo = sorted({t for t in texts if t not in self.cache})
        # questions: in float32, as `ask` embeds them (a build's bfloat16 is for documents)
        for t, v in zip(todo, self.inner.encode(todo, batch_size=64, bf16=False)):
            self.cache[t] = v
        if todo and path is not None:
            keys = sorted(self.cache)
            np.savez(path, texts=np.array(keys), vecs=np.stack([self.cache[t] for t in keys]),
                     model=np.array(self.name))

    def encode(self, texts, batch_size: int = 32, bf16: bool | None = None):
        import numpy as np
        todo = [t for t in texts if t not in self.cache]
        if todo:
            for t, v in zip(todo, self.inner.encode(todo, batch_size=batch_size, bf16=bf16)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts]) if texts else self.inner.encode([])

    encode_few = encode  # the second stage's masked questions: remembered here, never on disk


def library(art_dir: Path, work: Path = WORK):
    from qa import Library
    from qa.embed import Embedder
    # the sqlite embedding cache beside the index: a rebuild (new code, moved folder) embeds nothing again
    lib = Library(index_dir=work / "index", seeds_dir=art_dir,
                  embedder=CachedEmbedder(Embedder(cache=work / "embeddings.sqlite")))
    t = time.perf_counter()
    index = lib.build()
    if lib.last_embedded:
        print(f"built the index: {len(index.entries)} articles, {len(index)} sentences, "
              f"{len(index.para)} paragraphs in {time.perf_counter() - t:.0f}s", file=sys.stderr)
    return lib


def check_corpus(lib, questions: list[dict]) -> None:
    """Every gold paragraph must be in the index verbatim, or the benchmark would be unfair."""
    index = lib.index
    paras = {_norm(index.paragraph_text(j)) for j in range(len(index.para))}
    missing = {q["context"] for q in questions} - paras
    if missing:
        raise SystemExit(f"{len(missing)} gold paragraphs did not survive article parsing, e.g. "
                         f"{next(iter(missing))[:80]!r}")


def mean_sentence_chars(index) -> float:
    import numpy as np
    return float(np.mean(index.sent[:, 3] - index.sent[:, 2]))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=str(DATA), help="SQuAD v1.1 JSON (default: ../shared/eval/squad-dev-public.json)")
    p.add_argument("--limit", type=int, default=0, help="only the first N questions")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--only", choices=["ours", "baselines", "all"], default="all")
    p.add_argument("--dump", help="write per-question candidate features to this .npz (for tuning)")
    args = p.parse_args(argv)

    from qa import evaluate as ev

    art_dir, questions = convert(Path(args.data))
    lib = library(art_dir)
    check_corpus(lib, questions)
    if args.limit:
        questions = questions[:args.limit]
    lib.embedder.prime([q["question"] for q in questions], WORK / "question_vecs.npz")
    if args.dump:
        from tune import dump
        dump(lib, questions, args.dump)
        return 0

    from qa.rerank import default
    model = default()
    systems = {}
    if args.only in ("ours", "all"):
        systems["ours"] = None
        if model is not None and model.reader is not None:
            systems["ours, ranker without the cross-encoder"] = "ranker alone"
        systems["ours, first stage alone"] = "first stage"
    if args.only in ("baselines", "all"):
        systems.update(BASELINES)
    sent_chars = mean_sentence_chars(lib.index)
    rows, details = [], {}
    for name, weights in systems.items():
        ours = weights in (None, "first stage", "ranker alone")
        rerank = False if weights == "first stage" else model.without_reader() if weights == "ranker alone" else True
        r = ev.evaluate(lib, questions, k=args.k, weights=None if ours else weights, rerank=rerank)
        details[name] = {k: v for k, v in r.items() if k != "misses"}
        details[name]["weights"] = dict(WEIGHTS) if ours else weights
        # the second half of the questions is held out from every fit (qa/search.py weights, qa/rerank.py)
        held = [x.get("rank") or 10 ** 9 for x in r["records"][len(r["records"]) // 2:]]
        h1, hm = sum(x == 1 for x in held) / len(held), sum(1 / x for x in held if x <= args.k) / len(held)
        rows.append((name, r["hit@1"], r["mrr"], r["recall@5"], r["mean_quote_chars"], r["ms_per_question"], h1, hm))
        print(f"{name}: P@1 {r['hit@1']:.3f} MRR@{args.k} {r['mrr']:.3f}", file=sys.stderr)

    lines = [f"SQuAD dev public half: {len(questions):,} questions, {len(lib.index.entries)} articles, "
             f"{len(lib.index.para):,} paragraphs, {len(lib.index):,} sentences (mean sentence "
             f"{sent_chars:.0f} chars)", "",
             f"| system | P@1 | MRR@{args.k} | R@5 | mean quote (chars) | ms / question | held-out half P@1 / MRR@{args.k} |",
             "|---|---|---|---|---|---|---|"]
    for name, p1, mrr, r5, qc, ms, h1, hm in rows:
        lines.append(f"| {name} | {p1:.3f} | {mrr:.3f} | {r5:.3f} | {qc:.0f} | {ms:.1f} | {h1:.3f} / {hm:.3f} |")
    for name, p1, mrr in PUBLISHED:
        lines.append(f"| {name} | {p1:.2f} | {mrr if mrr is None else f'{mrr:.2f}'} | | | | |".replace("None", "–"))
    table = "\n".join(lines)
    print(table)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "squad.json").write_text(json.dumps(
        {"questions": len(questions), "k": args.k, "mean_sentence_chars": sent_chars,
         "systems": details, "table": table}, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
