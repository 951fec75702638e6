"""Quote spans (qa.quotes): the sentence ranked second joins the first quote when it is its
neighbour and likely to answer too."""

from qa.quotes import JOIN_PROBABILITY, iter_quotes
from qa.search import Hit


def _hit(row: int, answers: float = -1.0) -> Hit:
    return Hit(row, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, answers=answers)


def _three_long_sentences(index) -> int:
    """A row whose paragraph goes on for two more sentences, each long enough to stand alone."""
    for r in range(len(index) - 2):
        rows = [r, r + 1, r + 2]
        if len({int(index.sent[x, 1]) for x in rows}) == 1 and all(len(index.sentence_text(x)) >= 60 for x in rows):
            return r
    raise AssertionError("no paragraph of three long sentences in the seeds")


def test_the_next_ranked_neighbour_joins_the_first_quote(seed_library):
    index = seed_library.index
    r = _three_long_sentences(index)
    likely, unlikely = JOIN_PROBABILITY + 0.1, JOIN_PROBABILITY - 0.1
    # its neighbour, likely to answer: one quote of both, in the article's order, quoted once
    quotes = list(iter_quotes(index, [_hit(r + 1, 0.9), _hit(r, likely), _hit(r + 2, 0.2)], ""))
    assert quotes[0].rows == (r, r + 1)
    assert quotes[0].text == index.article(int(index.sent[r, 0])).text[quotes[0].start:quotes[0].end]
    assert [q.rows for q in quotes[1:]] == [(r + 2,)]
    # not likely enough, not judged by the second stage, or not a neighbour: quotes of their own
    for hits in ([_hit(r, 0.9), _hit(r + 1, unlikely)], [_hit(r), _hit(r + 1)], [_hit(r, 0.9), _hit(r + 2, likely)]):
        assert [q.rows for q in iter_quotes(index, hits, "")] == [(h.row,) for h in hits]
