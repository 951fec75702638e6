"""Measure quote retrieval on a question set: `python -m qa eval QUESTIONS.jsonl`.

One question a JSON object a line:
    {"id", "question", "history"?: [...], "support": ["text a correct quote contains", ...],
     "context"?: "text a correct quote lies within"}
An empty `support` means the articles do not answer it: the right answer is
`answered: false`. A quote is correct when it contains one of the support
strings (and, with `context`, lies inside it); whitespace is normalised first.

Reported: hit@1, hit@k, MRR@k (and R@5 when k >= 5) over the answerable
questions, false abstentions, the abstention rate on the unanswerable ones (its
recall) and the share of abstentions that were right (its precision),
the mean quote length in characters, time per question, and every miss with
what came first instead. `evaluate()` is the library function that tests and
benchmarks call; `calibrate()` picks the abstention threshold from the scores.

What is left out: building indexes and writing question sets.
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path


def _norm(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def load_questions(path: str | Path) -> list[dict]:
    """Read and check a JSON Lines question set; a bad line is one ValueError naming it."""
    out, seen = [], set()
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                q = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{n}: not JSON ({e.msg})") from None
            if not isinstance(q, dict) or not isinstance(q.get("question"), str):
                raise ValueError(f'{path}:{n}: each line needs a "question" string')
            support = q.get("support", [])
            if not isinstance(support, list) or not all(isinstance(s, str) and s.strip() for s in support):
                raise ValueError(f'{path}:{n}: "support" must be a list of non-empty strings')
            history = q.get("history") or []
            if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
                raise ValueError(f'{path}:{n}: "history" must be a list of strings')
            if "context" in q and not isinstance(q["context"], str):
                raise ValueError(f'{path}:{n}: "context" must be a string')
            qid = str(q.get("id", n))
            if qid in seen:
                raise ValueError(f"{path}:{n}: duplicate id {qid!r}")
            seen.add(qid)
            out.append({**q, "id": qid, "support": support, "history": history})
    if not out:
        raise ValueError(f"{path}: no questions")
    return out


def is_correct(quote_text: str, q: dict) -> bool:
    text = _norm(quote_text)
    ctx = q.get("context")
    if ctx is not None and text not in _norm(ctx):
        return False
    return any(_norm(s) in text for s in q["support"])


def evaluate(library, questions: list[dict], k: int = 3, weights: dict | None = None,
             threshold: float | None = None, rerank=True) -> dict:
    """Ask every question of `library` and score the quotes; returns the figures and the misses.

    `weights` override the fusion weights of `qa.search` and `threshold` the abstention
    threshold, so baselines and calibration run through the same code; `rerank=False` asks
    the first stage alone, a `qa.rerank.Reranker` asks with that second stage.
    """
    from .answer import ANSWER_THRESHOLD, answer, judge
    index, embedder = library.index, library.embedder
    model = judge(weights, rerank)
    if threshold is None:  # report the threshold of the stage that judges
        threshold = model.thresholds["answer"] if model is not None else ANSWER_THRESHOLD
    records, misses = [], []
    hits1 = hitsk = hits5 = 0
    rr = 0.0
    quote_chars: list[int] = []
    elapsed = 0.0
    for q in questions:
        t = time.perf_counter()
        ans = answer(index, embedder, q["question"], k=k, history=q.get("history"),
                     threshold=threshold, weights=weights, rerank=rerank)
        elapsed += time.perf_counter() - t
        top = ans.confidence
        rec = {"id": q["id"], "answerable": bool(q["support"]), "answered": ans.answered, "score": top,
               "followup": bool(q.get("history"))}
        records.append(rec)
        first = ans.quotes[0].text if ans.quotes else None
        if ans.quotes:
            quote_chars.append(len(ans.quotes[0].text))
        if not q["support"]:
            if ans.answered:
                misses.append({"id": q["id"], "question": q["question"], "why": "answered an unanswerable question",
                               "first": first, "score": round(top, 4)})
            continue
        rank = next((i + 1 for i, qt in enumerate(ans.quotes) if is_correct(qt.text, q)), None)
        rec["rank"] = rank
        if rank == 1:
            hits1 += 1
        if rank is not None:
            hitsk += 1
            hits5 += rank <= 5
            rr += 1.0 / rank
        if rank != 1 or not ans.answered:
            why = "abstained" if not ans.answered else ("not in the top %d" % k if rank is None else f"rank {rank}")
            misses.append({"id": q["id"], "question": q["question"], "query": ans.query, "why": why,
                           "first": first, "score": round(top, 4), "support": q["support"][:3]})
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    n = max(1, len(answerable))
    out = {
        "questions": len(records), "answerable": len(answerable), "unanswerable": len(unanswerable),
        "k": k, "threshold": threshold,
        "hit@1": hits1 / n, f"hit@{k}": hitsk / n, "mrr": rr / n,
        "false_abstentions": sum(not r["answered"] for r in answerable),
        "abstention_rate_unanswerable": (sum(not r["answered"] for r in unanswerable) / len(unanswerable)
                                         if unanswerable else None),
        # Of the questions it declined, the share the articles really do not answer.
        "abstention_precision": (sum(not r["answered"] for r in unanswerable)
                                 / max(1, sum(not r["answered"] for r in records))),
        "mean_quote_chars": sum(quote_chars) / max(1, len(quote_chars)),
        "ms_per_question": 1000 * elapsed / max(1, len(records)),
        "misses": misses, "records": records,
    }
    if k >= 5:
        out["recall@5"] = hits5 / n
    return out


def calibrate(records: list[dict]) -> dict:
    """The abstention threshold that best separates answerable from unanswerable top scores.

    Among the thresholds that make the fewest mistakes (answerable abstained plus
    unanswerable answered), the midpoint of the widest gap is taken, so the margin on
    both sides is as large as the data allows.
    """
    pos = sorted(r["score"] for r in records if r["answerable"])
    neg = sorted(r["score"] for r in records if not r["answerable"])
    if not pos or not neg:
        raise ValueError("calibration needs both answerable and unanswerable questions")
    cuts = sorted(set(pos + neg))
    best = None
    for lo, hi in zip(cuts, cuts[1:]):
        t = (lo + hi) / 2
        errors = sum(s < t for s in pos) + sum(s >= t for s in neg)
        key = (errors, -(hi - lo))
        if best is None or key < best[0]:
            best = (key, t)
    t = best[1]
    abstained_neg = sum(s < t for s in neg)
    abstained_all = abstained_neg + sum(s < t for s in pos)
    return {"threshold": t, "errors": best[0][0], "margin": -best[0][1],
            "precision_unanswerable": abstained_neg / abstained_all if abstained_all else 1.0,
            "recall_unanswerable": abstained_neg / len(neg),
            "lowest_answerable": pos[0], "highest_unanswerable": neg[-1]}


def report(r: dict, out=sys.stdout) -> None:
    k = r["k"]
    print(f"{r['questions']} questions ({r['answerable']} answerable, {r['unanswerable']} unanswerable), k={k}", file=out)
    print(f"hit@1 {r['hit@1']:.3f}   hit@{k} {r[f'hit@{k}']:.3f}   MRR@{k} {r['mrr']:.3f}"
          + (f"   R@5 {r['recall@5']:.3f}" if "recall@5" in r else ""), file=out)
    abst = r["abstention_rate_unanswerable"]
    print(f"false abstentions {r['false_abstentions']}/{r['answerable']}   abstained on unanswerable "
          + ("n/a" if abst is None else f"{abst:.3f}")
          + f"   abstention precision {r['abstention_precision']:.3f}   (threshold {r['threshold']:.3f})", file=out)
    print(f"mean quote {r['mean_quote_chars']:.0f} chars   {r['ms_per_question']:.1f} ms per question", file=out)
    if r["misses"]:
        print(f"\n{len(r['misses'])} misses:", file=out)
        for m in r["misses"]:
            first = (m["first"] or "(no quote)")[:160]
            print(f"- [{m['id']}] {m['question']} -- {m['why']} (score {m['score']:.3f})\n    first: {first}", file=out)


def part_figures(records: list[dict], part: str = "all") -> dict:
    """hit@1, hit@3, MRR@3 and follow-ups' hit@1 over the answerable questions of `part`, and
    abstention: the share of unanswerable ones declined, the answerable ones declined."""
    rs = [r for r in records if in_part(r["id"], part)]
    ans = [r for r in rs if r["answerable"]]
    un = [r for r in rs if not r["answerable"]]
    fu = [r for r in ans if r.get("followup")]
    rank = [r.get("rank") or 10 ** 9 for r in ans]
    n = max(1, len(ans))
    return {"answerable": len(ans), "hit@1": sum(x == 1 for x in rank) / n, "hit@3": sum(x <= 3 for x in rank) / n,
            "mrr": sum(1 / x for x in rank if x <= 3) / n, "followups": len(fu),
            "followups_hit@1": sum(r.get("rank") == 1 for r in fu) / len(fu) if fu else None,
            "unanswerable": len(un), "declined_unanswerable": sum(not r["answered"] for r in un) / len(un) if un else None,
            "answerable_declined": sum(not r["answered"] for r in ans)}


def compare(library, questions: list[dict], k: int = 3, out=sys.stdout) -> dict:
    """The before/after table: the first stage alone, then with the second stage (without its
    cross-encoder, when it has one, and with it)."""
    from .rerank import default
    runs = {"first stage": evaluate(library, questions, k=k, rerank=False)}
    model = default()
    if model is not None and model.reader is not None:
        runs["+ second stage, ranker alone"] = evaluate(library, questions, k=k, rerank=model.without_reader())
    runs["+ second stage"] = evaluate(library, questions, k=k)
    print(f"| system | part | answerable | hit@1 | hit@{k} | MRR@{k} | follow-ups hit@1 | declined unanswerable "
          f"| answerable declined | ms / question |\n|---|---|---|---|---|---|---|---|---|---|", file=out)
    table = {}
    for name, r in runs.items():
        for part, label in (("even", "fit (even)"), ("odd", "held-out (odd)"), ("all", "all")):
            f = table[f"{name} {part}"] = part_figures(r["records"], part)
            fu = "–" if f["followups_hit@1"] is None else f"{f['followups_hit@1']:.2f} of {f['followups']}"
            du = "–" if f["declined_unanswerable"] is None else f"{f['declined_unanswerable']:.2f} of {f['unanswerable']}"
            print(f"| {name} | {label} | {f['answerable']} | {f['hit@1']:.3f} | {f['hit@3']:.3f} | {f['mrr']:.3f} "
                  f"| {fu} | {du} | {f['answerable_declined']} | {r['ms_per_question']:.1f} |", file=out)
    return table


def main(args) -> int:
    from .library import Library
    try:
        if args.k < 1:
            raise ValueError("k must be at least 1")
        questions = load_questions(args.questions)
    except ValueError as e:  # the CLI turns only its own error types into one line
        print(f"qa: {e}", file=sys.stderr)
        return 1
    lib = Library(index_dir=args.index)
    if getattr(args, "compare", False):
        table = compare(lib, questions, k=args.k, out=sys.stderr if args.json else sys.stdout)
        if args.json:
            print(json.dumps(table, indent=1))
        return 0
    r = evaluate(lib, questions, k=args.k)
    cal = None
    if getattr(args, "calibrate", None):
        try:
            cal = calibrate([x for x in r["records"] if in_part(x["id"], args.calibrate)])
        except ValueError as e:
            print(f"qa: {e}", file=sys.stderr)
            return 1
        cal["on"] = args.calibrate
        cal["all"] = {key: v for key, v in evaluate(lib, questions, k=args.k, threshold=cal["threshold"]).items()
                      if key in ("false_abstentions", "abstention_rate_unanswerable", "abstention_precision")}
    if args.json:
        out = {key: v for key, v in r.items() if key != "records"}
        if cal:
            out["calibration"] = cal
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        report(r)
        if cal:
            a = cal["all"]
            print(f"\ncalibrated on {cal['on']} questions: threshold {cal['threshold']:.3f} "
                  f"(margin {cal['margin']:.3f}, {cal['errors']} errors there; abstention precision "
                  f"{cal['precision_unanswerable']:.3f}, recall {cal['recall_unanswerable']:.3f}); on all "
                  f"questions: precision {a['abstention_precision']:.3f}, recall "
                  f"{a['abstention_rate_unanswerable'] or 0:.3f}, false abstentions {a['false_abstentions']}")
    return 0


def in_part(qid: str, part: str) -> bool:
    """Whether a question id belongs to `part`: 'all', or 'even'/'odd' by the number in the id."""
    if part == "all":
        return True
    digits = "".join(ch for ch in str(qid) if ch.isdigit())
    return bool(digits) and (int(digits) % 2 == 0) == (part == "even")
