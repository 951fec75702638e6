"""Which questions lean on the conversation (qa.followup), without the index."""

from qa.followup import is_followup, rewrite

POWER = "What did Samantha Power say about Assad?"


def test_a_question_that_opens_with_why_and_names_its_subject_stands_alone():
    assert not is_followup("Why isn't Russia in the coalition?")
    assert rewrite("Why isn't Russia in the coalition?", [POWER]) == "Why isn't Russia in the coalition?"


def test_elliptical_and_pronoun_follow_ups_still_lean_on_the_last_question():
    for q in ("Why?", "Why not?", "How so?", "And what about Lavrov?"):
        assert is_followup(q)
    assert rewrite("Why?", [POWER]) == f"{POWER} Why?"
    assert rewrite("Why did she say it?", [POWER]) == "Why did Power say it?"
