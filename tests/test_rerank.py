"""The second stage (qa/rerank.py): its features, the shipped model, and what it changes in answers."""

import json
import os
import re

import numpy as np
import pytest

from qa import rerank
from qa.answer import answer
from qa.rerank import FEATURES, MODEL_PATH, Reranker, features, question_kind
from qa.search import candidates, fuse


def test_question_kinds():
    assert question_kind("How much did Glazer offer for the club?") == "number"
    assert question_kind("When did the civil war start?") == "date"
    assert question_kind("Who will replace the chief executive?") == "name"
    assert question_kind("Why did shares in the airline fall?") == "reason"
    assert question_kind("What caused the delay?") == "reason"
    assert question_kind("What did the minister say about taxes?") == "say"
    assert question_kind("How did the band react?") == "how"
    assert question_kind("Is the deal going ahead?") is None


def _features(lib, question, asked=None):
    ix, emb = lib.index, lib.embedder
    qv = emb.encode([question])[0]
    rows, feats = candidates(ix, qv, question)
    fused = fuse(feats)
    head = np.argsort(-fused, kind="stable")[:rerank.RERANK_TOP]
    X = features(ix, qv, question, rows[head], {f: v[head] for f, v in feats.items()}, fused[head], asked)
    return rows[head], X


def test_features_describe_every_candidate(seed_library):
    rows, X = _features(seed_library, "How many air strikes has the US carried out in Iraq?")
    assert X.shape == (len(rows), len(FEATURES)) and np.isfinite(X).all()
    col = {f: X[:, j] for j, f in enumerate(FEATURES)}
    assert col["rank"].min() == 0 and col["fused_gap"].max() == 0
    assert set(np.unique(col["qkind"])) == {2}  # a number is asked for
    ix = seed_library.index
    for r, n in zip(rows, col["new_numbers"]):  # a number the question does not hold
        has = re.search(r"\b\d[\d,.]*\b", ix.sentence_text(int(r))) is not None
        assert n > 0 or not has
    assert (col["followup"] == 0).all()
    assert np.allclose(col["own_cov"], col["coverage"], atol=1e-5)


def test_kind_match_is_the_kind_of_answer_asked_for(seed_library):
    ix = seed_library.index
    for question, kind_col in (("Why isn't Russia in the coalition?", "reason"),
                               ("How many air strikes has the US carried out in Iraq?", "new_numbers"),
                               ("What did Samantha Power say about Assad?", None)):
        rows, X = _features(seed_library, question)
        col = {f: X[:, j] for j, f in enumerate(FEATURES)}
        if kind_col:  # a reason for "why", a number the question does not hold for "how many"
            assert np.array_equal(col["kind_match"], (col[kind_col] > 0).astype(np.float32))
        else:  # a quotation or reported speech for "what did ... say"
            assert np.array_equal(col["kind_match"], np.maximum(col["quotation"], col["speech"]))
        assert 0 < col["kind_match"].sum() < len(rows), question
    # no kind asked for, nothing matched
    _, X = _features(seed_library, "Is the coalition bombing Syria?")
    assert not X[:, FEATURES.index("kind_match")].any()


def test_a_followups_own_words_are_a_feature(seed_library):
    _, X = _features(seed_library, "What did Lavrov say about Libya? And who led the operation there?",
                     asked="And who led the operation there?")
    col = {f: X[:, j] for j, f in enumerate(FEATURES)}
    assert (col["followup"] == 1).all()
    assert not np.allclose(col["own_cov"], col["coverage"])


def test_shipped_model_loads_and_fits_its_features():
    assert MODEL_PATH.exists() and MODEL_PATH.stat().st_size < 30e6
    assert (MODEL_PATH.parent / "MODEL_CARD.md").exists()
    m = Reranker(MODEL_PATH)
    assert 0 < m.thresholds["answer"] < 1 and 0 < m.thresholds["more"] < 1
    s, p = m.score(np.zeros((3, len(FEATURES)), dtype=np.float32))
    assert s.shape == p.shape == (3,) and ((0 <= p) & (p <= 1)).all()


def test_a_model_for_other_features_is_refused(tmp_path):
    spec = json.loads(MODEL_PATH.read_text("utf-8"))
    spec["features"] = spec["features"][:-1]
    bad = tmp_path / "old.json"
    bad.write_text(json.dumps(spec), "utf-8")
    with pytest.raises(ValueError, match="other features"):
        Reranker(bad)


def test_qa_reranker_off_and_path(monkeypatch, seed_library):
    ix, emb = seed_library.index, seed_library.embedder
    q = "Why isn't Russia in the coalition?"
    on = rerank.search(ix, emb.encode([q])[0], q, k=5)
    assert all(0 <= h.answers <= 1 for h in on)
    scores = [h.score for h in on]  # the ranker's order
    assert scores == sorted(scores, reverse=True)
    monkeypatch.setenv("QA_RERANKER", "off")
    off = rerank.search(ix, emb.encode([q])[0], q, k=5)
    assert all(h.answers == -1 for h in off)
    monkeypatch.setenv("QA_RERANKER", str(MODEL_PATH))
    assert rerank.default() is not None
    monkeypatch.delenv("QA_RERANKER")


def test_k_is_a_maximum_not_a_quota(seed_library):
    ix, emb = seed_library.index, seed_library.embedder
    bar = rerank.default().thresholds["more"]
    counts = []
    for q in ("Why isn't Russia in the coalition?", "How many air strikes has the US carried out in Iraq?",
              "What did Samantha Power say about Assad?", "When did James Foley die?"):
        a = answer(ix, emb, q, k=5)
        if a.answered:  # after the first, only quotes likely enough to answer
            assert all(qt.answers >= bar for qt in a.quotes[1:]), [qt.answers for qt in a.quotes]
        assert all(0 <= qt.answers <= 1 for qt in a.quotes)
        counts.append(len(a.quotes))
    assert max(counts) <= 5 and min(counts) < 5


def test_a_photo_caption_is_quoted_as_one(seed_library):
    ix, emb = seed_library.index, seed_library.embedder
    a = answer(ix, emb, "What happened to James Foley?", k=3)
    kinds = [q.kind for q in a.quotes]
    assert "caption" in kinds
    cap = a.quotes[kinds.index("caption")]
    assert "beheaded" in cap.text or "James Foley" in cap.text
    assert cap.to_dict()["kind"] == "caption" and cap.context == cap.text or cap.text in cap.context


def test_a_caption_does_not_say_what_somebody_said(seed_library):
    ix, emb = seed_library.index, seed_library.embedder
    a = answer(ix, emb, "What did Lavrov say about the Ukraine crisis?", k=3)
    assert not a.answered and a.quotes  # the closest passages stay available
    # the photo of Kerry and Lavrov is what comes nearest, without saying anything he said
    assert a.quotes[0].kind == "caption" and "Lavrov" in a.quotes[0].text
    a = answer(ix, emb, "What happened to James Foley?", k=3)
    assert a.answered and any(qt.kind == "caption" for qt in a.quotes)


def test_the_question_side_started_early_gives_the_same_ranking(seed_library):
    ix, emb = seed_library.index, seed_library.embedder
    q, other = "What did Samantha Power say about Assad?", "Why isn't Russia in the coalition?"

    def ranked(**kw):
        return [(h.row, round(h.score, 9), round(h.answers, 9))
                for h in rerank.search(ix, emb.encode([q])[0], q, k=10, encode=emb.encode_few, **kw)]
    plain = ranked()
    assert ranked(ahead=rerank.QuestionSide(q, ix, emb.encode_few)) == plain
    # one started for another question is not used
    assert ranked(ahead=rerank.QuestionSide(other, ix, emb.encode_few)) == plain


def test_answers_are_the_same_from_many_threads_at_once(seed_library):
    # the second stage embeds the question's other forms on a worker thread while the first
    # stage searches; questions asked at once from a server's threads must not mix them up
    from concurrent.futures import ThreadPoolExecutor
    ix, emb = seed_library.index, seed_library.embedder
    qs = ["Why isn't Russia in the coalition?", "How many air strikes has the US carried out in Iraq?",
          "What did Samantha Power say about Assad?", "When did James Foley die?",
          "What has Russia been shipping to Damascus and Baghdad?", "Who is Sergei Lavrov?"]

    def asked(q):
        a = answer(ix, emb, q)
        return a.answered, round(a.confidence, 9), [(qt.text, round(qt.answers, 9)) for qt in a.quotes]
    alone = [asked(q) for q in qs]
    with ThreadPoolExecutor(6) as pool:
        for _ in range(3):
            assert list(pool.map(asked, qs * 2)) == alone * 2


def test_env_is_clean():
    assert os.environ.get("QA_RERANKER") in (None, "")
