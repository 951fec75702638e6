"""Train the question side of the bundled MiniLM for the second stage: qa/models/question_encoder.onnx.

    python benchmarks/train_question_encoder.py --bbc-index /tmp/bbc [--seed-index DIR] [--write]

The index stores every sentence's vector from the bundled MiniLM; the question is embedded by
the same model, which was trained on no news questions. This script fine-tunes a copy of the
model *on the question side only*, against the sentence vectors the index already holds, so the
index, its build and the first stage stay as they are: for every fit question the first
stage's best `TOP` candidates (as `qa.answer` asks it: follow-ups rewritten, the second stage
off) and which of them hold a support text; the loss is a softmax over the candidates'
cosines with the question (times `SCALE`), the answering ones the target (the listwise loss of
"Learning to rank with softmax"; one or more positives). The tuned question vector is then one
more view for the second stage (`qa.rerank_features`: its cosine with the sentence and with its
titled paragraph); where it puts "How much did the company pay?" is near the sentence that
holds an amount, not only near the one that names the company.

Data, all public, the same fit parts as benchmarks/train_reranker.py: the SQuAD public half's
first half of questions, the even ids of the seed and BBC sets and every BBC training question
(ids t…, train_reranker.TRAIN_QUESTIONS); news questions repeated `--news-repeat` times. Nothing held out is fitted on.

Three models are trained, seed 0, CPU: one on every fit question (shipped, int8 ONNX, with
its card), and two on half of them each (`fold_of`), which train_reranker.py uses for the
fit questions' features (out of fold: the ranker must not learn to trust a cosine tuned on
the very question). About 8 minutes on 2 cores with the candidate lists cached.

The report (benchmarks/data/question_encoder/report.json) gives, before and after, hit@1 by
cosine alone over the held-out questions and how well a question's best cosine tells answerable
questions from the rest (`separation`). `--null` trains with a "none of these answers" option
(`train`), measured and not shipped (README, Quality); it needs the fit questions made
unanswerable, whose candidate lists are made once (a few minutes) and cached beside the others.

What is left out: serving (`qa.question_encoder`), the ranker that reads it (train_reranker.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from qa.question_encoder import MODEL_PATH  # noqa: E402

DATA = HERE / "data" / "question_encoder"
SEED = 0
TOP = 30  # the second stage's candidates (qa.rerank.RERANK_TOP)
SCALE = 20.0  # cosines to logits
EPOCHS = 2.0
LR = 2e-5
BATCH = 32
MAX_TOKENS = 64  # questions; longer ones are cut
TAU0, TAU_LR = 0.5, 5e-3  # the "none answers" option's cosine (`--null`): start, learning rate


def fold_of(qid: str) -> int:
    """Which half of the fit questions a question belongs to (0 or 1), from its id alone."""
    return zlib.crc32(str(qid).encode("utf-8")) % 2


def fold_path(f: int) -> Path:
    """The model trained without fold `f`: it embeds fold `f`'s fit questions for the ranker."""
    return DATA / f"without-fold-{f}.onnx"


def candidate_lists(lib, questions: list[dict], ablate: str | None = None) -> dict:
    """Per question: the text searched, the first stage's best TOP rows, their labels, their
    stored sentence vectors `V` (zeros where a question has fewer candidates) and whether the
    question is answerable; `ablate`: without what answers it (train_reranker.ablation)."""
    from train_reranker import ablation, asked_candidates
    from qa.evaluate import is_correct
    index, emb = lib.index, lib.embedder
    kept = ablation(index, ablate)
    texts, rows, labels = [], np.full((len(questions), TOP), -1, np.int64), np.zeros((len(questions), TOP), np.int8)
    for n, q in enumerate(questions):
        query, _, head, _, _ = asked_candidates(index, emb, q, kept, TOP)
        texts.append(query)
        rows[n, :len(head)] = head
        labels[n, :len(head)] = [is_correct(index.sentence_text(int(x)), q) for x in head]
    V = np.where((rows >= 0)[..., None], np.asarray(index.sent_vecs[np.maximum(rows, 0).ravel()], np.float32)
                 .reshape(*rows.shape, -1), 0).astype(np.float32)
    answerable = [bool(q["support"]) and (not ablate or bool(labels[n].any())) for n, q in enumerate(questions)]
    return {"texts": np.array(texts), "rows": rows, "y": labels, "V": V, "ids": np.array([q["id"] for q in questions]),
            "answerable": np.array(answerable)}


def training_sets(bbc_index, seed_index, fresh: bool = False, ablated: bool = False) -> dict:
    """Per set: candidate lists (`candidate_lists`, cached in benchmarks/data/question_encoder/)
    and whether each question is fitted on (`fit`); `ablated`: also the fit questions made
    unanswerable (train_reranker.ablated_questions; sets "squad-ablated", "bbc-ablated")."""
    import train_reranker as tr
    os.environ["QA_RERANKER"] = "off"  # the first stage, as train_reranker.py's dumps ask it
    libraries, questions = tr.libraries_and_questions(bbc_index, seed_index)
    wanted = {n: (questions[n], None) for n in ("squad", "seeds", "bbc")}
    if ablated:
        wanted.update({f"{n}-ablated": qa for n, qa in tr.ablated_questions(questions).items()})
    made: dict = {}
    out = {}
    for name, (qs, how) in wanted.items():
        path = DATA / f"{name}.npz"
        ids = [q["id"] for q in qs]
        d = dict(np.load(path)) if path.exists() and not fresh else None
        if d is None or "answerable" not in d or [str(i) for i in d["ids"]] != ids:
            print(f"candidates for {name}: {len(ids)} questions", file=sys.stderr)
            base = name.split("-")[0]
            lib = made[base] = made.get(base) or libraries[base]()
            d = candidate_lists(lib, qs, how)
            DATA.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(path, **d)
        d["fit"] = np.ones(len(ids), bool) if how else tr.fit_flags(name, ids)
        out[name] = d
    return out


def train(sets: dict, leave_out: int | None, news_repeat: int, epochs: float = EPOCHS, null: bool = False):
    """A SentenceTransformer (MiniLM) fine-tuned on the fit questions not in fold `leave_out`.

    `null`: the softmax has one more option, "none of these answers", with a learned cosine
    `tau` (times SCALE) as its logit: the target of the fit questions that are not answerable
    (and of the ablated sets), and in every answerable question's denominator, so a question's
    best cosine says whether anything answers it as well as which sentence does. Ablated
    questions count once (their answerable originals are already repeated)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from qa.embed import default_model, resolve_model_path
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    st = SentenceTransformer(resolve_model_path(default_model()), device="cpu")
    model, tok = st[0].auto_model, st.tokenizer  # fine-tuned in place; `st` pools and normalises
    def wanted(d):
        answers = d["y"].sum(1) > 0
        return d["fit"] & (answers | (~d["answerable"] if null else False))
    items = [(name, i) for name, d in sets.items() if null or not name.endswith("-ablated")
             for i in np.flatnonzero(wanted(d))
             if leave_out is None or fold_of(str(d["ids"][i])) != leave_out
             for _ in range(1 if name == "squad" or name.endswith("-ablated") else news_repeat)]
    steps = max(1, int(epochs * len(items) / BATCH))
    tau = torch.nn.Parameter(torch.tensor(TAU0))
    opt = torch.optim.AdamW([{"params": list(model.parameters())},
                             {"params": [tau], "lr": TAU_LR, "weight_decay": 0.0}], lr=LR, weight_decay=0.01)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (steps - s) / steps))
    model.train()
    order: list[int] = []
    t = time.perf_counter()
    for step in range(steps):
        if len(order) < BATCH:
            order += list(rng.permutation(len(items)))
        batch = [items[order.pop()] for _ in range(BATCH)]
        enc = tok([str(sets[n]["texts"][i]) for n, i in batch], padding=True, truncation=True,
                  max_length=MAX_TOKENS, return_tensors="pt")
        q = st(dict(enc))["sentence_embedding"]  # the model's own mean pooling and normalising
        V = torch.from_numpy(np.stack([sets[n]["V"][i] for n, i in batch]))
        y = torch.from_numpy(np.stack([sets[n]["y"][i] for n, i in batch])).bool()
        there = torch.from_numpy(np.stack([sets[n]["rows"][i] for n, i in batch]) >= 0)
        logit = (SCALE * torch.einsum("bd,btd->bt", q, V)).masked_fill(~there, -1e4)
        if null:  # one more column: "none answers", the target where no candidate is
            logit = torch.cat([logit, (SCALE * tau).expand(len(batch), 1)], 1)
            y = torch.cat([y, ~y.any(1, keepdim=True)], 1)
        loss = (torch.logsumexp(logit, 1) - torch.logsumexp(logit.masked_fill(~y, -1e4), 1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0:
            print(f"  step {step}/{steps} loss {loss.item():.3f} tau {tau.item():.3f} "
                  f"({time.perf_counter() - t:.0f}s)", file=sys.stderr)
    model.eval()
    st.null_cosine = float(tau.item()) if null else None
    return st


def export_int8(st, path: Path) -> None:
    """The model as ONNX (qa.onnx_encoder's export: pooling and normalising in the graph), its
    weights quantised to int8 (ONNX Runtime's dynamic quantisation, a scale per channel: 4x
    smaller; one scale per tensor cost 1 point of SQuAD held-out hit@1 and 3 BBC questions of 61
    against the fp32 model, per channel none)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from qa.onnx_encoder import export
    path.parent.mkdir(parents=True, exist_ok=True)
    fp32 = path.with_suffix(".fp32.onnx")
    export(st, fp32)
    quantize_dynamic(str(fp32), str(path), weight_type=QuantType.QInt8, per_channel=True)
    fp32.unlink()


def hit_at_1(sets: dict, encode, part: str) -> dict:
    """Per set: hit@1 of the candidates ordered by cosine alone (the base or a tuned question
    vector), over the answerable questions of `part` ("held": not fitted on)."""
    out = {}
    for name, d in sets.items():
        keep = (~d["fit"] if part == "held" else d["fit"]) & (d["y"].sum(1) > 0)
        idx = np.flatnonzero(keep)
        if not len(idx):
            continue
        q = encode([str(t) for t in d["texts"][idx]])
        cos = np.where(d["rows"][idx] >= 0, np.einsum("nd,ntd->nt", q, d["V"][idx]), -9)
        out[name] = {"n": int(len(idx)), "hit@1": round(float(np.mean(d["y"][idx, cos.argmax(1)] > 0)), 3)}
    return out


def separation(sets: dict, encode_for) -> dict:
    """How well a question's best cosine over its candidates tells answerable questions from
    the rest: the AUC (answerable above) per news set and part, the fit part's questions embedded
    out of fold (`encode_for(fold or None)`), and the BBC fit questions against themselves made
    unanswerable (bbc-ablated)."""
    from train_reranker import auc as area

    def best(d):
        by_model: dict = {}
        for i in range(len(d["texts"])):
            by_model.setdefault(fold_of(str(d["ids"][i])) if d["fit"][i] else None, []).append(i)
        out = np.zeros(len(d["texts"]))
        for f, rows in by_model.items():
            q = encode_for(f)([str(d["texts"][i]) for i in rows])
            out[rows] = np.where(d["rows"][rows] >= 0, np.einsum("nd,ntd->nt", q, d["V"][rows]), -9).max(1)
        return out

    def auc(pos, neg):
        return round(area(pos, neg), 3) if len(pos) and len(neg) else None
    out = {}
    scores = {name: best(sets[name]) for name in ("seeds", "bbc", "bbc-ablated") if name in sets}
    for name in ("seeds", "bbc"):
        d, b = sets[name], scores[name]
        for part, m in (("fit", d["fit"]), ("held", ~d["fit"])):
            out[f"{name} {part}"] = auc(b[m & d["answerable"]], b[m & ~d["answerable"]])
    if "bbc-ablated" in scores:
        d, a = sets["bbc"], sets["bbc-ablated"]
        made = scores["bbc-ablated"][~a["answerable"]]
        out["bbc fit vs made unanswerable"] = auc(scores["bbc"][d["fit"] & d["answerable"]], made)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bbc-index", required=True, help="an index of ../shared/corpora/bbc-2005")
    p.add_argument("--seed-index", default=str(ROOT / "index"), help="an index of seeds/ (default: index/)")
    p.add_argument("--fresh", action="store_true", help="make the candidate lists again")
    p.add_argument("--news-repeat", type=int, default=4, help="how many times a news question counts")
    p.add_argument("--write", action="store_true", help=f"write {MODEL_PATH.relative_to(ROOT)}")
    p.add_argument("--null", action="store_true", help="train with a \"none answers\" option (`train`)")
    args = p.parse_args(argv)
    import torch
    torch.set_num_threads(2)
    sets = training_sets(args.bbc_index, args.seed_index, args.fresh, ablated=True)
    from qa.embed import Embedder
    from qa.question_encoder import QuestionEncoder
    base = Embedder()
    report = {"base": hit_at_1(sets, base.encode_few, "held"),
              "base separation": separation(sets, lambda f: base.encode_few)}
    taus = []
    for f in (0, 1):
        print(f"training without fold {f}", file=sys.stderr)
        st = train(sets, f, args.news_repeat, null=args.null)
        taus.append(st.null_cosine)
        export_int8(st, fold_path(f))
    print("training on every fit question", file=sys.stderr)
    st = train(sets, None, args.news_repeat, null=args.null)
    target = MODEL_PATH if args.write else DATA / "question_encoder.onnx"
    export_int8(st, target)
    tuned = QuestionEncoder(target)
    folds = [QuestionEncoder(fold_path(f)) for f in (0, 1)]

    def encode_for(f):
        model = tuned if f is None else folds[f]
        return lambda t: np.stack([model.encode(x) for x in t])
    report["tuned"] = hit_at_1(sets, encode_for(None), "held")
    report["tuned separation (fit: out of fold)"] = separation(sets, encode_for)
    if args.null:
        report["null cosine"] = {"shipped": st.null_cosine, "folds": taus}
    print(json.dumps(report, indent=1))
    (DATA / "report.json").write_text(json.dumps(report, indent=1), "utf-8")
    return 0

if __name__ == "__main__":
    sys.exit(main())
