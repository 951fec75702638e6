"""The seed question set holds its floor; the harness scores and calibrates the way it says."""

import json
from pathlib import Path

import numpy as np
import pytest

from qa.evaluate import calibrate, evaluate, is_correct, load_questions

QUESTIONS = Path(__file__).parent / "data" / "seed_questions.jsonl"

# The floor reached on the seed questions (k=3), with the second stage (qa/rerank.py), whose
# training saw the even half; raise it when retrieval gets better. (Issue 11 targets hit@1 0.9,
# hit@3 1.0 and every unanswerable one declined: not reached.) Measured: hit@1 0.86, hit@3 0.90,
# MRR 0.88, 6 of 10 unanswerable declined, none answerable. The model trained on 900 BBC
# questions gave up 3 seed questions here (0.88 before) for 6 held-out BBC ones; the tuned
# question (qa/question_encoder.py) won two back (0.82 -> 0.86) and lowered the answer bar, so 3
# unanswerable ones were declined where 6 had been; trained with the 200 below-lead BBC
# questions too, the bar rose again (6 of 10) and hit@3 gave one question (0.92 -> 0.90). 9 of 10
# declined since a span of time is not an amount (qa/answer_type.py), a photo caption does not
# say what somebody said, nor the words of another person the question names (qa/answer.py).
FLOOR = {"hit@1": 0.84, "hit@3": 0.88, "mrr": 0.86, "abstention_rate_unanswerable": 0.8,
         "abstention_precision": 1.0}


@pytest.fixture(scope="session")
def seed_eval(seed_library):
    return evaluate(seed_library, load_questions(QUESTIONS), k=3)


def test_question_set_shape():
    qs = load_questions(QUESTIONS)
    assert len([q for q in qs if q["support"]]) >= 40
    assert len([q for q in qs if not q["support"]]) >= 8
    assert len([q for q in qs if q["history"]]) >= 6


def test_support_strings_are_in_the_seeds(seed_library):
    text = " ".join(e.article.text for e in seed_library.index.entries)
    for q in load_questions(QUESTIONS):
        for s in q["support"]:
            assert s in text, (q["id"], s)


def test_seed_floor(seed_eval):
    r = seed_eval
    for key, floor in FLOOR.items():
        assert r[key] >= floor, (key, r[key], [m for m in r["misses"]])


def test_abstention_on_seeds(seed_eval):
    assert seed_eval["false_abstentions"] == 0, [m for m in seed_eval["misses"] if m["why"] == "abstained"]
    answered = {m["question"] for m in seed_eval["misses"] if m["why"].startswith("answered")}
    assert "What is the capital of Australia?" not in answered
    assert "How do you make borscht?" not in answered


def test_every_miss_says_what_came_first(seed_eval):
    for m in seed_eval["misses"]:
        assert {"id", "question", "why", "first"} <= set(m)


def test_is_correct_needs_support_inside_context():
    q = {"support": ["90 air strikes"], "context": "The U.S. has conducted more than 90 air strikes."}
    assert is_correct("more than  90 air strikes.", q)
    assert not is_correct("It made 90 air strikes elsewhere.", q)
    assert not is_correct("nothing", {"support": ["x y"]})


def test_calibrate_separates_scores():
    recs = [{"answerable": True, "score": s} for s in (0.8, 0.7, 0.6)] + \
           [{"answerable": False, "score": s} for s in (0.3, 0.4, 0.65)]
    c = calibrate(recs)
    assert c["errors"] == 1
    assert 0.4 < c["threshold"] < 0.6
    assert c["recall_unanswerable"] == pytest.approx(2 / 3)


def test_load_questions_rejects_bad_lines(tmp_path):
    p = tmp_path / "q.jsonl"
    p.write_text('{"question": "a", "support": "not a list"}\n')
    with pytest.raises(ValueError, match="support"):
        load_questions(p)
    p.write_text("not json\n")
    with pytest.raises(ValueError, match=":1:"):
        load_questions(p)


def test_cli_eval(seed_index_dir, tmp_path, capsys):
    from qa.cli import main
    p = tmp_path / "q.jsonl"
    p.write_text(json.dumps({"id": "a", "question": "Why isn't Russia in the coalition?",
                             "support": ["Russia is not a member"]}) + "\n")
    assert main(["eval", str(p), "--index", str(seed_index_dir), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["hit@1"] == 1.0 and out["misses"] == []
    assert main(["eval", str(tmp_path / "missing.jsonl"), "--index", str(seed_index_dir)]) == 1


def test_question_words_are_not_terms():
    from qa.search import query_tokens
    toks = query_tokens("How many bombing raids has America carried out in Iraq?")
    assert "mani" not in toks and "how" not in toks and "has" not in toks
    assert {"bomb", "raid", "america", "iraq"} <= set(toks)
    assert "may" in query_tokens("What happened in May?")  # a month, not a modal


def test_coverage_counts_terms_the_articles_never_use(seed_library):
    from qa.search import _coverage, query_tokens
    ix = seed_library.index
    cov = _coverage(ix.bm25_sent, query_tokens("What is the capital of Australia?"), np.arange(len(ix)))
    assert 0 < cov.max() < 0.75  # "capital" is in the seeds, "Australia" is not
