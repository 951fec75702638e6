"""The question-side model (qa/question_encoder.py) and what the second stage reads of it."""

import sys
from pathlib import Path

import numpy as np
import pytest

from qa import question_encoder, rerank
from qa.question_encoder import MODEL_PATH, QuestionEncoder
from qa.rerank import FEATURES, features
from qa.search import candidates, fuse

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

QUESTION = "How many air strikes has the US carried out in Iraq?"


def _described(lib, question, tuned):
    ix, emb = lib.index, lib.embedder
    qv = emb.encode([question])[0]
    rows, feats = candidates(ix, qv, question)
    fused = fuse(feats)
    head = np.argsort(-fused, kind="stable")[:rerank.RERANK_TOP]
    X = features(ix, qv, question, rows[head], {f: v[head] for f, v in feats.items()}, fused[head],
                 tuned=tuned)
    return {f: X[:, j] for j, f in enumerate(FEATURES)}, rows[head]


def test_shipped_model_is_small_and_embeds_like_the_bundled_one_but_not_the_same(seed_library):
    assert MODEL_PATH.exists() and MODEL_PATH.stat().st_size < 30e6
    assert "question_encoder.onnx" in (MODEL_PATH.parent / "MODEL_CARD.md").read_text("utf-8")
    v = QuestionEncoder(MODEL_PATH).encode(QUESTION)
    base = seed_library.embedder.encode([QUESTION])[0]
    assert v.shape == base.shape and v.dtype == np.float32
    assert abs(float(np.linalg.norm(v)) - 1) < 1e-4
    # tuned, not replaced: still about the same thing, not the same vector
    assert 0.5 < float(v @ base) < 0.9999
    assert np.array_equal(v, QuestionEncoder(MODEL_PATH).encode(QUESTION))  # deterministic


def test_tuned_features_are_its_cosines_and_the_plain_ones_without_it(seed_library):
    tuned = question_encoder.default().encode(QUESTION)
    col, rows = _described(seed_library, QUESTION, tuned)
    ix = seed_library.index
    sent = np.asarray(ix.sent_vecs[rows], np.float32)
    para = np.asarray(ix.para_vecs[ix.sent[rows, 1]], np.float32)
    assert np.isfinite(col["tuned_dense"]).all()
    assert np.allclose(col["tuned_dense"], sent @ tuned, atol=1e-5)
    assert np.allclose(col["tuned_para"], para @ tuned, atol=1e-5)
    assert col["tuned_gap"].max() == 0 and (col["tuned_gap"] <= 0).all()
    assert not np.allclose(col["tuned_dense"], col["dense"], atol=1e-3)
    # without the model (off, or a vector that does not fit the index) the plain question stands in
    for missing in (None, np.ones(7, np.float32)):
        plain, _ = _described(seed_library, QUESTION, missing)
        assert np.allclose(plain["tuned_dense"], plain["dense"], atol=1e-5)
        assert np.allclose(plain["tuned_para"], plain["dense_para"], atol=1e-5)


def test_off_and_a_missing_path(monkeypatch, seed_library):
    ix, emb = seed_library.index, seed_library.embedder
    q = "Why isn't Russia in the coalition?"
    on = [h.row for h in rerank.search(ix, emb.encode([q])[0], q, k=5)]
    monkeypatch.setenv("QA_QUESTION_ENCODER", "off")
    assert question_encoder.default() is None and rerank.tuned_vector(q) is None
    off = rerank.search(ix, emb.encode([q])[0], q, k=5)
    assert len(off) == len(on) and all(0 <= h.answers <= 1 for h in off)
    monkeypatch.setenv("QA_QUESTION_ENCODER", str(MODEL_PATH))
    assert [h.row for h in rerank.search(ix, emb.encode([q])[0], q, k=5)] == on
    monkeypatch.setenv("QA_QUESTION_ENCODER", "/nowhere/model.onnx")
    with pytest.raises(FileNotFoundError, match="QA_QUESTION_ENCODER"):
        question_encoder.default()


def test_training_folds_come_from_the_id_alone():
    from train_question_encoder import fold_of
    ids = [f"t{i}" for i in range(400)] + [str(i) for i in range(400)]
    folds = [fold_of(i) for i in ids]
    assert set(folds) == {0, 1} and folds == [fold_of(i) for i in ids]
    assert 0.4 < np.mean(folds) < 0.6


def test_only_an_index_of_the_bundled_models_vectors_gets_the_tuned_question(seed_library):
    assert question_encoder.fits(seed_library.index.model)
    assert not question_encoder.fits("some/other-model")
    assert rerank.tuned_vector("Who won?", seed_library.index) is not None

    class Other:
        model = "some/other-model"
    assert rerank.tuned_vector("Who won?", Other()) is None
