"""A question that asks for a quantity is answered only when its first quote holds one (qa.answer_type)."""

from qa.answer_type import asked_kind, counts, holds_what_was_asked, quantities


def test_quantities_with_their_units_and_in_words():
    assert quantities("Reuters delivered £234m of cuts.") == ["234m"]
    assert quantities("after getting A$846m from selling Lensworth") == ["846m"]
    assert quantities("the single is on sale for 79p") == ["79p"]
    assert quantities("Thirteen episodes have been ordered") == ["thirteen"]
    assert quantities("the bill will take a decade to come into effect") == ["decade"]
    assert quantities("the 26-year-old from Lyon") == ["26"]
    assert quantities("Prices rose 4% in March") == ["4", "%"]
    assert quantities("the prototype reached 200mph, 42km from the track, with 4G") == ["200mph", "42km", "4g"]
    assert quantities("The widget cost £2000 last year") == ["2000"]  # a sum, not a year


def test_years_are_not_quantities_but_for_how_long():
    assert quantities("Hewitt is the first Australian in the final since 1988") == []
    assert quantities("He has been MP since 1997", "How long has he been an MP?") == ["1997"]


def test_the_question_s_own_numbers_say_nothing():
    assert quantities("Of the £750m pledged, £250m was spent.", "How much of the £750m was spent?") == ["250m"]
    assert quantities("The £750m was pledged in 2000.", "How much of the £750m was spent?") == []


def test_only_quantity_questions_are_checked():
    assert not holds_what_was_asked("How much did Sony pay Disney to back Blu-ray?",
                                    "Disney said its films would be available on the Blu-ray format.")
    assert holds_what_was_asked("How much did Sony pay Disney?", "Sony paid Disney $50m, sources said.")
    assert holds_what_was_asked("Who did Sony pay?", "Disney said its films would be available on Blu-ray.")
    assert holds_what_was_asked("Why did Disney back Blu-ray?", "Disney said the format was better.")



def test_the_kind_of_quantity_a_question_asks_for():
    assert asked_kind("How much did Sony pay Disney?") == "money"
    assert asked_kind("How much is the chief executive paid?") == "money"
    assert asked_kind("How much prize money did she collect?") == "money"
    assert asked_kind("How much of the aid came from strangers?") is None
    assert asked_kind("How much time do users spend searching?") is None
    assert asked_kind("How much did profits rise?") is None
    assert asked_kind("How long is his contract?") == "duration"
    assert asked_kind("How many weeks was he injured?") == "duration"
    assert asked_kind("How old was the conductor when he died?") == "age"
    assert asked_kind("How many people does the firm employ?") == "count"
    assert asked_kind("How far did the shares fall?") is None


def test_counts_are_not_sums_or_percentages_or_spans_of_time():
    assert counts("The firm posted a 222% rise in profit, or 40 per cent, worth $5m (£2.7m) and 79p a share.") == []
    assert counts("It cut 5,000 jobs and seven stores.") == ["5,000", "seven"]
    assert counts("She directs 15 days of concerts after a four-year gap, decades on.") == []
    assert counts("It begins on 11 June, or June 12th, or the 3rd of May, with 20 bands.") == ["20"]


def test_a_span_of_time_answers_only_a_question_about_time():
    assert not holds_what_was_asked("How many people attended the festival?",
                                    "She is directing 15 days of concerts and events.")
    assert not holds_what_was_asked("How much oil does Syria export?", "It turned a blind eye for four years.")
    assert holds_what_was_asked("How much oil does Syria export?", "Syria exports 150,000 barrels a day.")
    assert holds_what_was_asked("How often is the race held?", "The race is held every four years.")
    assert holds_what_was_asked("How many weeks was he injured?", "He was out for six weeks.")
    assert holds_what_was_asked("How long is his contract?", "He signed a three-year contract.")



def test_answers_without_a_number_in_digits():
    # how often: a frequency, often with no number at all
    assert asked_kind("How often did he sing it, according to his daughter?") == "frequency"
    assert holds_what_was_asked("How often did he sing it?", "He would sing it at least once a day.")
    assert holds_what_was_asked("How often is a new blog created?", "A blog is created every 5.8 seconds.")
    assert not holds_what_was_asked("How often did he sing it?", "He sang it at his daughter's wedding.")
    # how long: "for a month"; but a month named is no span
    assert holds_what_was_asked("How long has the chart been put back?", "It has been delayed for a month.")
    assert not holds_what_was_asked("How long has the chart been put back?", "It was delayed in March.")
    # multiples and ordinals
    assert holds_what_was_asked("How much did traffic grow on launch day?", "Traffic increased fourfold that day.")
    assert holds_what_was_asked("How many bosses will Southampton have had in eight years?",
                                "He will be their ninth manager in eight years.")
    assert not holds_what_was_asked("How many bosses has Southampton had?", "He is the first manager to say so.")


def test_a_sum_with_a_unit_is_not_a_day_of_the_month():
    assert counts("It will take on $6bn of May's debt and 300 of May's staff.") == ["300"]
    assert counts("It takes on 300 of May's staff.") == ["300"]
    assert counts("It opens on 6 May.") == []
    assert holds_what_was_asked("How much of May's debt will it take on?", "It will assume $6bn of May's debt.")


def test_money_and_scores_asked_without_how_much():
    assert asked_kind("What annual salary does the chief executive earn?") == "money"
    assert asked_kind("What price per share did Quiksilver pay for Rossignol?") == "money"
    assert asked_kind("What fee will Real Sociedad pay Rangers?") == "money"
    assert asked_kind("What drove prices up?") is None  # not asking for a sum
    assert asked_kind("What was the final score of the final?") == "score"
    assert asked_kind("By what score did Henman beat Nalbandian?") == "score"
    assert not holds_what_was_asked("What salary does the chief executive earn?",
                                    "He was made permanent secretary in April 2001.")
    assert holds_what_was_asked("What fee will Sociedad pay Rangers?", "Sociedad will pay Rangers £150,000.")
    assert not holds_what_was_asked("What was the final score at Elland Road?",
                                    "Britain could end 34 years of failure with victory at Elland Road.")
    assert holds_what_was_asked("By what score did Henman win?", "Henman won with a 6-1 7-5 victory.")
    assert holds_what_was_asked("What drove prices up?", "Demand from China drove prices up.")
    assert asked_kind("What is the annual salary of Scotland's children's commissioner?") == "money"
    assert asked_kind("What pre-tax loss did Eurotunnel report for 2004?") == "money"
    assert asked_kind("What were Google's revenues for the quarter?") == "money"
    assert asked_kind("What was the price rise in March?") is None
    assert not holds_what_was_asked("What pre-tax loss did Eurotunnel report?", "Eurotunnel said 2004 was a hard year.")
    assert holds_what_was_asked("What were Google's revenues?", "Google reached revenues of $805.9m.")


def test_a_court_s_sentence():
    assert asked_kind("What prison sentence did Royer receive?") == "sentence"
    assert asked_kind("What sentence did the judge hand down?") == "sentence"
    assert not holds_what_was_asked("What sentence did Spector receive?", "Mr Cutler said Phil did not cause the death.")
    assert holds_what_was_asked("What sentence did he receive?", "He was jailed for six years.")
    assert holds_what_was_asked("What sentence did he receive?", "He was given a two-year suspended sentence.")
    assert holds_what_was_asked("What sentence did she receive?", "She was ordered to do 200 hours of unpaid work.")


def test_a_quantity_of_another_kind_does_not_answer():
    # a count asked, only a percentage or a sum held
    assert not holds_what_was_asked("How many people does the firm employ?",
                                    "The firm posted a 222% rise in annual profit.")
    assert holds_what_was_asked("How many people does the firm employ?", "The firm employs 4,300 people.")
    # of a poll, a share of those asked is a count
    assert holds_what_was_asked("And how many said trust would make no difference?",
                                "According to the poll, 61% said trust made no difference to whether they vote.")
    # money asked, only a date or a score held
    assert not holds_what_was_asked("How much did BT spend developing its engine?",
                                    "The engine has been in development since 2001, on 3 sites.")
    assert not holds_what_was_asked("How much prize money did he collect?", "He won 6-3 6-7 7-6.")
    assert holds_what_was_asked("How much did BT spend developing its engine?", "BT spent £3m on it.")
    assert holds_what_was_asked("How much did Blair say aid would cost?", "It will cost several hundred million pounds.")
    # a duration asked, only a sum held
    assert not holds_what_was_asked("How long is his contract?", "He is joining the club for nearly $20m.")
    assert holds_what_was_asked("How long did she wear the cast?", "She wore a cast for three and a half months.")
    # an age asked, only a chapter number held
    assert not holds_what_was_asked("How old is the new chief executive?", "He filed for Chapter 11 protection.")
    assert holds_what_was_asked("How old was the conductor when he died?", "The conductor has died in Germany at 50.")
    assert holds_what_was_asked("How old is the singer?", "The singer,31, walked out of the show.")


STORY = """Harbour Cranes Sold

By Test Desk | March 3, 2021

Port Kvarn has sold its oldest harbour cranes to a shipyard in Gdansk, the port authority said.

The authority said the cranes would be dismantled and shipped in the spring, and that new electric cranes
would replace them next year.

Built in 1961, the cranes each weigh 310 tonnes.
"""


def test_a_quantity_the_articles_do_not_give_is_declined(fresh_library):
    res = fresh_library.add([("cranes.txt", STORY.encode())])
    assert res.added
    ans = fresh_library.ask("How much did the shipyard in Gdansk pay Port Kvarn for the harbour cranes?")
    assert not ans.answered and ans.quotes  # the closest passages stay available
    assert "cranes" in ans.quotes[0].text
    ans = fresh_library.ask("How much does each of Port Kvarn's old harbour cranes weigh?")
    assert ans.answered and "310 tonnes" in ans.quotes[0].text


def test_by_how_much_asks_for_a_change_of_any_kind():
    q = "By how much did employers' final salary pension contributions go up in 2002/03?"
    assert asked_kind(q) is None
    assert holds_what_was_asked(q, "In 1998/99 contributions rose by 4.7% and in 2002/03 by 8.6%.")
    assert not holds_what_was_asked(q, "Contributions went up sharply in 2002/03.")
    assert asked_kind("How much did employers pay in salary?") == "money"
