"""The BBC question sets hold their floors on a slice of the real archive.

The slice is every article a question of the BBC set or the check set names (its answers,
duplicates and follow-up stories included) plus every 20th other article of
../shared/corpora/bbc-2005 as distractors: about 280 articles, built once (a minute). The
figures on the whole archive (2,225 articles) are in the README and come from `python -m qa eval tests/data/bbc_questions.jsonl
--index BBC_INDEX --compare`. Skipped where the archive is not beside the repo.
"""

import json
from pathlib import Path

import pytest

from qa.evaluate import load_questions, part_figures

BBC = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "bbc-2005"
QUESTIONS = Path(__file__).parent / "data" / "bbc_questions.jsonl"
# Floors on the slice, held-out half (odd ids) and all (the even half was fitted on by
# qa/rerank.py's model); raise them when answers get better (about a question of slack). Measured
# (with the check set's articles among the distractors; 2026-12-06, the tuned question,
# qa/question_encoder.py, the kind of quantity asked checked, qa/answer_type.py, both models
# trained with the 200 below-lead questions too): held out hit@1 0.828, hit@3 0.953, follow-ups
# 0.78, 4 of 12 unanswerable declined (3 before the kind check), one answerable; all 0.898 /
# 0.976 / 0.88, 7 of 23 unanswerable declined (4), one answerable (issue 11's target: 80%
# declined). Before the tuned question: held out 0.766 / 0.922. With money and scores asked
# without "how much" and spans of time not counts (qa/answer_type.py, 2026-12-06, seventh
# session): 5 of 12 held out, 10 of 23 in all declined, the rest unchanged.
FLOOR = {"odd": {"hit@1": 0.81, "hit@3": 0.93, "followups_hit@1": 0.75, "declined_unanswerable": 0.33},
         "all": {"hit@1": 0.88, "hit@3": 0.96, "followups_hit@1": 0.8, "declined_unanswerable": 0.39}}
MAX_ANSWERABLE_DECLINED = {"odd": 1, "all": 1}
# The check set (tests/data/bbc_check_questions.jsonl): 42 questions over 32 other articles,
# written by a session that saw neither the system nor the other sets, asked about sentences
# below the lead; nothing fits on it. Measured on the slice: hit@1 0.595, hit@3 0.892,
# follow-ups 5 of 5, 4 of 5 unanswerable declined (1 before the kind check and the below-lead
# training questions), 1 answerable declined (before the tuned question: 0.568 / 0.730, 4 of 5,
# 2 of 5 declined: README, Quality, says what it cost). Eighth session (quantities without digits,
# joined quotes, attribution): hit@1 0.622, hit@3 0.865, 4 of 5 declined, no answerable one.
CHECK_QUESTIONS = Path(__file__).parent / "data" / "bbc_check_questions.jsonl"
CHECK_FLOOR = {"hit@1": 0.59, "hit@3": 0.86, "followups_hit@1": 0.8, "declined_unanswerable": 0.6}
CHECK_MAX_ANSWERABLE_DECLINED = 1

# 250 more (190 answerable, 19 of them follow-ups, 60 unanswerable) over 174 articles no other set
# names, by two sessions that saw neither the system nor the other sets (2026-12-06, seventh
# session): never fitted on, measured with `python -m qa eval` on the whole archive (README).
FRESH_QUESTIONS = Path(__file__).parent / "data" / "bbc_fresh_questions.jsonl"

pytestmark = pytest.mark.skipif(not BBC.is_dir(), reason="the BBC archive is not beside the repo")


def test_question_set_shape():
    qs = load_questions(QUESTIONS)
    answerable = [q for q in qs if q["support"] and not q["history"]]
    assert len(answerable) >= 100
    assert len({q["articles"][0] for q in answerable}) >= 70
    assert {q["section"] for q in answerable} == {"business", "entertainment", "politics", "sport", "tech"}
    assert len([q for q in qs if q["history"]]) >= 15
    assert len([q for q in qs if not q["support"]]) >= 20


def test_check_set_shape():
    qs = load_questions(CHECK_QUESTIONS)
    answerable = [q for q in qs if q["support"] and not q["history"]]
    assert len(answerable) == 32 and len({q["articles"][0] for q in answerable}) == 32
    assert {q["section"] for q in answerable} == {"business", "entertainment", "politics", "sport", "tech"}
    assert len([q for q in qs if q["history"]]) == 5 and len([q for q in qs if not q["support"]]) == 5


def test_fresh_set_is_apart_from_the_others():
    qs = load_questions(FRESH_QUESTIONS)
    assert len(qs) == 250 and len([q for q in qs if not q["support"]]) == 60
    assert len([q for q in qs if q["history"]]) == 19
    others = {a for path in (QUESTIONS, CHECK_QUESTIONS, *sorted(QUESTIONS.parent.glob("bbc_*train*.jsonl")),
                             *sorted(QUESTIONS.parent.glob("bbc_below_lead_*.jsonl")))
              for q in load_questions(path) for a in q.get("articles", [])}
    assert not others & {a for q in qs for a in q["articles"]}


@pytest.mark.parametrize("path", [QUESTIONS, CHECK_QUESTIONS, FRESH_QUESTIONS, QUESTIONS.parent / "bbc_unused_train_questions.jsonl"],
                         ids=["bbc", "check", "fresh", "unused-train"])
def test_support_is_verbatim_in_the_articles_named(path):
    for q in load_questions(path):
        texts = {" ".join((BBC / f).read_text("utf-8", errors="replace").split()) for f in q["articles"]}
        for s in q["support"]:
            assert any(s in t for t in texts), (q["id"], s)


@pytest.fixture(scope="module")
def bbc_slice(bbc_slice_dir, bbc_slice_index_dir, embedder):
    from qa import Library
    return Library(index_dir=bbc_slice_index_dir, seeds_dir=bbc_slice_dir, embedder=embedder)


@pytest.fixture(scope="module")
def bbc_eval(bbc_slice):
    from qa.evaluate import evaluate
    return evaluate(bbc_slice, load_questions(QUESTIONS), k=3)


def _holds(ev: dict, part: str, floor: dict, max_declined: int) -> None:
    f = part_figures(ev["records"], part)
    for key, value in floor.items():
        assert f[key] >= value, (part, key, f, json.dumps(ev["misses"][:10], indent=1)[:3000])
    assert f["answerable_declined"] <= max_declined, f


@pytest.mark.parametrize("part", ["odd", "all"])
def test_bbc_floor(bbc_eval, part):
    _holds(bbc_eval, part, FLOOR[part], MAX_ANSWERABLE_DECLINED[part])


def test_check_set_floor(bbc_slice):
    from qa.evaluate import evaluate
    _holds(evaluate(bbc_slice, load_questions(CHECK_QUESTIONS), k=3), "all", CHECK_FLOOR,
           CHECK_MAX_ANSWERABLE_DECLINED)
