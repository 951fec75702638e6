"""Each ingredient of answering on and off, on every news question set: one table.

    python benchmarks/ablation.py --bbc-index DIR [--seed-index DIR] [--json FILE]

Rows: the full system, then the same with one ingredient taken out at a time:
- the second stage (`QA_RERANKER=off`: the first stage's fused ranking, its relevance bar);
- the question-side model (`QA_QUESTION_ENCODER=off`: the plain question vector stands in for
  it in the second stage's features, as the model card says);
- joined quotes (`qa.quotes.JOIN_PROBABILITY` above every probability: one sentence a quote);
- the answer checks (`qa.answer_type`: the kind of quantity asked for; `qa.sourcing`: what a
  named person said, not another person's words nor an article that never names them);
- follow-up rewriting (every question asked without the reader's earlier ones).
Columns, for the BBC set's held-out half (odd ids), the BBC check and fresh sets (never fitted
on) and the seed set's held-out half: hit@1 / hit@3 of the answerable questions, follow-ups'
hit@1, unanswerable questions declined, answerable ones declined. SQuAD's first stage and both
stages are in benchmarks/squad.py; txtai beside ours in benchmarks/bbc.py.

What is left out: fitting anything (every row uses the shipped models), timing (bbc.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from unittest import mock

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

BBC = ROOT.parent / "shared" / "corpora" / "bbc-2005"
DATA = ROOT / "tests" / "data"
SETS = (("BBC held out", "bbc", DATA / "bbc_questions.jsonl", "odd"),
        ("BBC check", "bbc", DATA / "bbc_check_questions.jsonl", "all"),
        ("BBC fresh", "bbc", DATA / "bbc_fresh_questions.jsonl", "all"),
        ("seeds held out", "seeds", DATA / "seed_questions.jsonl", "odd"))


def variants():
    """(row label, what is patched for it, how each question is asked: {"rerank": …, "history": …})."""
    from qa import answer, quotes, sourcing
    yield "full system", [], {}
    yield "− second stage (first stage alone)", [], {"rerank": False}
    yield "− question-side model", [mock.patch.dict(os.environ, QA_QUESTION_ENCODER="off")], {}
    yield "− joined quotes", [mock.patch.object(quotes, "JOIN_PROBABILITY", float("inf"))], {}
    yield "− answer checks (quantity kind, speaker)", [
        mock.patch.object(answer, "holds_what_was_asked", lambda *a, **k: True),
        mock.patch.multiple(sourcing, absent_from=lambda *a, **k: False, said_by_the_other=lambda *a, **k: False)], {}
    yield "− follow-up rewriting", [], {"history": False}


def run(libraries: dict, k: int = 3) -> dict:
    from qa.evaluate import evaluate, in_part, load_questions, part_figures
    table = {}
    for label, patches, how in variants():
        with contextlib.ExitStack() as stack:
            for patch in patches:
                stack.enter_context(patch)
            row = {}
            for name, lib, path, part in SETS:
                qs = load_questions(path)
                ids = {q["id"] for q in qs if q["history"]}
                if how.get("history") is False:
                    qs = [{**q, "history": []} for q in qs]
                r = evaluate(libraries[lib], qs, k=k, rerank=how.get("rerank", True))
                f = part_figures(r["records"], part)
                if how.get("history") is False:  # the follow-ups are still the ones with a history
                    fu = [x for x in r["records"] if x["id"] in ids and x["answerable"] and in_part(x["id"], part)]
                    f["followups"] = len(fu)
                    f["followups_hit@1"] = sum(x.get("rank") == 1 for x in fu) / len(fu) if fu else None
                row[name] = f
            table[label] = row
            print(f"{label}: done", file=sys.stderr)
    return table


def markdown(table: dict) -> str:
    names = [s[0] for s in SETS]
    head = "| system | " + " | ".join(f"{n}: hit@1 / hit@3, follow-ups, unanswerable declined, answerable "
                                      "declined" for n in names) + " |"
    lines = [head, "|---|" + "---|" * len(names)]
    for label, row in table.items():
        cells = []
        for n in names:
            f = row[n]
            fu = "–" if f["followups_hit@1"] is None else f"{f['followups_hit@1']:.2f}"
            du = "–" if f["declined_unanswerable"] is None else \
                f"{round(f['declined_unanswerable'] * f['unanswerable'])} of {f['unanswerable']}"
            cells.append(f"{f['hit@1']:.3f} / {f['hit@3']:.3f}, {fu}, {du}, {f['answerable_declined']}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bbc-index", required=True, help="an index of ../shared/corpora/bbc-2005")
    p.add_argument("--seed-index", default=str(ROOT / "index"))
    p.add_argument("--json", help="also write the figures here")
    args = p.parse_args(argv)
    from qa import Library
    libraries = {"bbc": Library(index_dir=args.bbc_index, seeds_dir=BBC),
                 "seeds": Library(index_dir=args.seed_index, seeds_dir=ROOT / "seeds")}
    table = run(libraries)
    print(markdown(table))
    if args.json:
        Path(args.json).write_text(json.dumps(table, indent=1), "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
