"""Who said a quote, when, how many sources agree — through `ask`, with the real model."""

import pytest

from qa import QuestionError
from qa.sourcing import asked_speaker, speaker_matches

from conftest import CARD_QUESTION, SEEDS

LAVROV_OUR_COUNTRY = "“[O]ur country is not part of the U.S.-led international coalition,” he said."


def _find(ans, text):
    return next(q for q in ans.quotes if q.text == text)


def test_speaker_and_kind_in_to_dict(seed_library):
    ans = seed_library.ask("Is Russia part of the international coalition led by the U.S.?", k=5)
    q = _find(ans, LAVROV_OUR_COUNTRY)
    assert (q.speaker, q.kind) == ("Sergei Lavrov", "quote")
    d = ans.to_dict()["quotes"][[x.text for x in ans.quotes].index(LAVROV_OUR_COUNTRY)]
    assert d["speaker"] == "Sergei Lavrov" and d["kind"] == "quote" and d["sources"] == 1
    card = seed_library.ask(CARD_QUESTION).quotes[0]
    assert (card.speaker, card.kind) == ("Sergei Lavrov", "paraphrase")


def test_question_about_a_speaker_prefers_their_quotes(seed_library):
    ans = seed_library.ask("What did Power say about Assad?")
    assert ans.quotes[0].speaker == "Samantha Power"
    assert "Assad" in ans.quotes[0].text


def test_speaker_filter(seed_library):
    ans = seed_library.ask("What was said about the regime?", k=5, speaker="Power")
    assert ans.quotes and all(q.speaker == "Samantha Power" for q in ans.quotes)
    assert any("antidote to the horrors of ISIL" in q.text for q in ans.quotes)


def test_source_and_date_filters(seed_library):
    mt = seed_library.ask("What did Lavrov say?", k=5, source="moscow times")
    assert mt.quotes and all(q.article.byline == "The Moscow Times" for q in mt.quotes)
    late = seed_library.ask("What did Lavrov say?", k=5, since="2014-10-01")
    assert late.quotes and all(q.article.date >= "2014-10-01" for q in late.quotes)
    none = seed_library.ask("What did Lavrov say?", until="2000-01-01")
    assert none.quotes == () and not none.answered
    with pytest.raises(QuestionError, match="YYYY-MM-DD"):
        seed_library.ask("What did Lavrov say?", since="last week")


def test_relative_dates_resolved_against_the_article(seed_library):
    ans = seed_library.ask("What did Lavrov urge Western governments to do about Assad?")
    q = next(q for q in ans.quotes if q.text.startswith("Russian Foreign Minister Sergei Lavrov on Monday urged"))
    assert {"phrase": "on Monday", "date": "2014-08-25"} in [dict(d) for d in q.dates]


def test_syndicated_copy_is_grouped_as_two_sources(fresh_library):
    text = (SEEDS / "003_42d2fca0b8d62e31.txt").read_text("utf-8")
    copy = text.replace("By [The Moscow Times](#)", "By [Wire Copy Daily](#)").replace(
        "August 26, 2014", "August 27, 2014")
    fresh_library.add([("wire-copy.md", copy.encode("utf-8"))])
    ans = fresh_library.ask("How many air strikes has the U.S. conducted in Iraq?", k=3)
    first = ans.quotes[0]
    assert "more than 90 air strikes" in first.text
    assert first.to_dict()["sources"] == 2
    assert {first.article.byline, first.also_in[0].byline} == {"The Moscow Times", "Wire Copy Daily"}
    assert sum("more than 90 air strikes" in q.text for q in ans.quotes) == 1


@pytest.mark.parametrize("question,who", [
    ("What did Power say about Assad?", "Power"), ("According to Lavrov, who is to blame?", "Lavrov"),
    ("What is Lavrov's view of the West?", "Lavrov"), ("Why isn't Russia in the coalition?", None),
    ("What did they say about Syria?", None)])
def test_asked_speaker(question, who):
    assert asked_speaker(question) == who


def test_speaker_matching():
    assert speaker_matches("Samantha Power", "Power") and speaker_matches("Samantha Power", "samantha power")
    assert not speaker_matches("Samantha Power", "Powell") and not speaker_matches(None, "Power")


def test_speaker_matches_an_office_named_instead_of_the_person():
    title = "Russian Foreign Minister"
    assert speaker_matches("Sergei Lavrov", "the Russian minister", title)
    assert speaker_matches("Sergei Lavrov", "the Foreign Minister", title)
    assert not speaker_matches("Sergei Lavrov", "the Russian minister", "Foreign Minister")  # not every word
    assert not speaker_matches("Sergei Lavrov", "the Syrian minister", title)
    assert not speaker_matches("Sergei Lavrov", "the", title)  # filler words alone name no one


def test_the_words_of_another_person_the_question_names():
    from qa.sourcing import said_by_the_other
    q = "What did President Obama say in reply to Lavrov?"
    assert said_by_the_other(q, "President Obama", "Sergei Lavrov", "Russian Foreign Minister",
                             'Now no one is talking about that," he said.')
    # the other person reporting what the one asked for said: that answers
    q = "What did Peter Hain call Michael Howard over the bill?"
    assert not said_by_the_other(q, "Peter Hain", "Mr Howard", None, "This morning Peter Hain even called me a mongrel.")
    # the one asked for, or a speaker the question does not name
    assert not said_by_the_other(q, "Peter Hain", "Mr Hain", None, "It is a disgrace.")
    assert not said_by_the_other(q, "Peter Hain", "Tony Blair", None, "It is a disgrace.")
    assert not said_by_the_other(q, "Peter Hain", None, None, "It is a disgrace.")
    # a speaker named only inside the asked-for name ("the Halifax's survey" and the Halifax)
    assert not said_by_the_other("What does the Halifax's December survey say?", "the Halifax's December survey",
                                 "Halifax", None, "Prices rose 1%, Halifax said.")


def test_a_person_the_quote_s_article_never_names(seed_library):
    from qa.sourcing import absent_from
    ix = seed_library.index
    lavrov = next(a for a in (ix.article(i) for i in range(len(ix.entries))) if "Lavrov" in a.title)
    assert absent_from(ix, lavrov, "Chancellor Gordon Brown")  # a full name, nowhere in it
    assert absent_from(ix, lavrov, "Home Secretary Charles Clarke")
    assert not absent_from(ix, lavrov, "Sergei Lavrov")
    assert not absent_from(ix, lavrov, "Russian Foreign Minister Lavrov")
    assert not absent_from(ix, lavrov, "Lavrov")
    # not a person's name: a place speaking for its government, an office, a follow-up's pronoun
    assert not absent_from(ix, lavrov, "Moscow")
    assert not absent_from(ix, lavrov, "the American ambassador")
    assert not absent_from(ix, lavrov, "Ryanair ordered? What did its chairman")


def test_a_name_with_a_plural_possessive_is_found():
    from qa.articles import Article
    from qa.sourcing import absent_from
    survey = Article(id="ids", title="Firms pump billions into pensions",
                     paragraphs=("A survey of 280 schemes by Incomes Data Services' (IDS) found contributions rose.",))
    assert not absent_from(None, survey, "Incomes Data Services")
    assert absent_from(None, survey, "Pensions Policy Institute")
