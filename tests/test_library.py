"""The library end to end with the real model: answers, quotes, index round trips, changes."""

import json
import shutil

import numpy as np
import pytest

from qa import Library, QuestionError, read_article
from qa import store
from qa.library import AddResult

from conftest import CARD_QUESTION, SEEDS


def test_card_question_returns_lavrovs_sentence_first(seed_library):
    ans = seed_library.ask(CARD_QUESTION)
    assert ans.answered
    first = ans.quotes[0]
    assert first.text.startswith("Russia is not a member of the U.S.-led anti-ISIS coalition because")
    assert first.article.title == "Russian FM: We and the US Are Arming Opposing Sides in Syrian Conflict"
    assert first.article.byline == "Patrick Goodenough" and first.article.date == "2014-10-22"
    assert first.context.startswith(first.text)


def test_follow_up_carries_the_speaker(seed_library):
    history = ["What did Samantha Power say about Assad?"]
    ans = seed_library.ask("And what did she say about ISIL?", history=history)
    assert ans.answered
    assert "ISIL" in ans.quotes[0].text
    assert "Power" in ans.quotes[0].context


def test_he_means_the_person_who_answered_when_the_question_named_a_country(seed_library):
    # "Russia" is not "he": the person is whoever said the best answer to the earlier question
    ans = seed_library.ask("What else did he say?", history=["Why isn't Russia in the coalition?"])
    assert ans.query == "What else did Lavrov say?"
    assert ans.quotes[0].speaker == "Sergei Lavrov"
    # a person named earlier still wins over a country named later
    ans = seed_library.ask("What did she say about starvation?",
                           history=["What did Samantha Power say?", "What about Russia?"])
    assert "Power" in ans.query and "starvation" in ans.quotes[0].text


def test_followup_rewrite_skips_names_that_are_not_people():
    from qa.followup import rewrite
    people = {"Lavrov", "Sergei Lavrov"}.__contains__
    assert rewrite("What did he say?", ["Did Russia and Sergei Lavrov agree?"], people) == "What did Lavrov say?"
    assert rewrite("What did he say?", ["Why is Russia out?"], people, lambda q: "Sergei Lavrov") == \
        "What did Lavrov say?"
    # no person anywhere: the old behaviour, the first name
    assert rewrite("What did he say?", ["Why is Russia out?"], people, lambda q: None) == "What did Russia say?"


def test_history_does_not_hijack_a_new_question(seed_library):
    history = ["What did Samantha Power say about Assad?"]
    alone = seed_library.ask("How many air strikes has the U.S. carried out in Iraq?")
    after = seed_library.ask("How many air strikes has the U.S. carried out in Iraq?", history=history)
    assert after.query == alone.query
    assert after.quotes[0].text == alone.quotes[0].text
    assert "90 air strikes" in after.quotes[0].text


def test_unanswerable_question_abstains_but_shows_closest(seed_library):
    ans = seed_library.ask("What is the capital of Australia?")
    assert not ans.answered
    assert len(ans.quotes) == 3


def test_every_quote_is_verbatim_with_offsets_and_context(seed_library):
    questions = [CARD_QUESTION, "What did Lavrov say about al-Qaida?", "Who is arming whom in Syria?",
                 "What does the U.S. blame for the growth of ISIS?", "What happened to James Foley?"]
    for q in questions:
        ans = seed_library.ask(q, k=5)
        texts = [x.text for x in ans.quotes]
        assert 1 <= len(texts) == len(set(texts)) <= 5  # k is a maximum: only quotes that answer
        spans = set()
        for x in ans.quotes:
            assert x.article.text[x.start:x.end] == x.text
            assert x.article.text[x.context_start:x.context_start + len(x.context)] == x.context
            assert x.context_start <= x.start and x.end <= x.context_start + len(x.context)
            assert not any(s < x.end and x.start < e for s, e in spans), "a sentence quoted twice"
            spans.add((x.start, x.end))
        assert [x.score for x in ans.quotes] == sorted((x.score for x in ans.quotes), reverse=True)


def test_boilerplate_is_never_quoted_and_captions_only_as_captions(seed_library):
    for q in ["Who holds up a sign for James Foley?", "Where did Kerry and Lavrov meet in London?",
              "Where can I buy things from the MRC store?", "What is the original url?"]:
        for x in seed_library.ask(q, k=10).quotes:
            if "holds up a sign" in x.text or "Winfield House" in x.text:
                assert x.kind == "caption" and x.speaker is None
            assert "MRC Store" not in x.text and "http" not in x.text


def test_to_dict_contract(seed_library):
    d = seed_library.ask(CARD_QUESTION).to_dict()
    assert set(d) >= {"question", "answered", "quotes"}
    assert d["question"] == CARD_QUESTION and d["answered"] is True
    q = d["quotes"][0]
    assert set(q) >= {"text", "score", "context", "article"}
    assert isinstance(q["score"], float)
    assert set(q["article"]) >= {"id", "title", "byline", "date", "url"}
    json.dumps(d)


@pytest.mark.parametrize("question,match", [("", "empty"), ("   \n ", "empty"), ("x" * 100_000, "too long")])
def test_bad_questions(seed_library, question, match):
    with pytest.raises(QuestionError, match=match):
        seed_library.ask(question)


def test_bad_k_and_history(seed_library):
    with pytest.raises(QuestionError):
        seed_library.ask(CARD_QUESTION, k=0)
    with pytest.raises(QuestionError):
        seed_library.ask(CARD_QUESTION, history="not a list")


def test_save_load_round_trip_gives_identical_results(seed_index_dir, seed_library, embedder):
    reopened = Library(index_dir=seed_index_dir, seeds_dir=SEEDS, embedder=embedder)
    for q in [CARD_QUESTION, "What did Power say about Assad?", "What is the capital of Australia?"]:
        a, b = seed_library.ask(q, k=5), reopened.ask(q, k=5)
        assert a.to_dict() == b.to_dict()
    assert np.array_equal(seed_library.index.sent_vecs, reopened.index.sent_vecs)


def test_manifest_records_format_model_counts_fingerprints(seed_index_dir):
    m = store.read_manifest(seed_index_dir)
    assert m["format"] == "qa-index" and m["version"] == store.VERSION
    assert m["model"] == "all-MiniLM-L6-v2" and m["dim"] == 384
    assert m["counts"]["articles"] == 2 and m["counts"]["sentences"] > 30
    fps = {a["id"]: a["fingerprint"] for a in m["articles"]}
    assert fps["000_54ba8922c5d040e6"] == read_article(SEEDS / "000_54ba8922c5d040e6.txt").fingerprint
    for a in m["articles"]:
        assert (seed_index_dir / a["file"]).is_file()


def test_changing_one_article_reembeds_only_it(tmp_path, embedder, seed_index_dir):
    seeds = tmp_path / "seeds"
    shutil.copytree(SEEDS, seeds)
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir)
    lib = Library(index_dir=index_dir, seeds_dir=seeds, embedder=embedder)
    lib.build()
    assert lib.last_embedded == []  # nothing changed: nothing embedded, nothing written
    before = lib.index.sent_vecs.copy()
    path = seeds / "003_42d2fca0b8d62e31.txt"
    path.write_text(path.read_text("utf-8").replace("more than 90 air strikes", "more than 120 air strikes"), "utf-8")
    lib.build()
    assert lib.last_embedded == ["003_42d2fca0b8d62e31"]
    n_cns = lib.index.sentence_counts()["000_54ba8922c5d040e6"]
    assert np.array_equal(lib.index.sent_vecs[:n_cns], before[:n_cns])
    assert "120 air strikes" in lib.ask("How many air strikes has the U.S. conducted?").quotes[0].text


def test_an_index_attributed_by_older_rules_is_attributed_again(tmp_path, embedder, seed_index_dir, monkeypatch):
    import qa.index
    import qa.pipeline
    index_dir = tmp_path / "index"
    shutil.copytree(seed_index_dir, index_dir)
    lib = Library(index_dir=index_dir, seeds_dir=SEEDS, embedder=embedder)
    who = [lib.index.sentence_who(r) for r in range(len(lib.index))]
    vecs, data = np.array(lib.index.sent_vecs), store.read_manifest(index_dir)["data"]
    newer = qa.pipeline.ATTRIBUTION_VERSION + 1  # rules newer than the index's
    for module in (qa.pipeline, qa.index):
        monkeypatch.setattr(module, "ATTRIBUTION_VERSION", newer)
    lib.build()
    assert lib.last_embedded == [] and np.array_equal(np.array(lib.index.sent_vecs), vecs)  # nothing embedded
    again = store.read_manifest(index_dir)["data"]
    assert again != data and lib.index.attribution == newer  # but written anew
    assert [lib.index.sentence_who(r) for r in range(len(lib.index))] == who
    reopened = Library(index_dir=index_dir, seeds_dir=SEEDS, embedder=embedder)
    reopened.build()
    assert reopened.index.attribution == newer
    assert store.read_manifest(index_dir)["data"] == again  # up to date: nothing written


def test_add_is_answerable_stored_and_survives_rebuild(fresh_library, tmp_path, embedder):
    lib = fresh_library
    art = tmp_path / "kiwi.txt"
    art.write_text("Kiwi Harvest Breaks Record\n\nBy Ana Field | March 3, 2021\n\n"
                   "New Zealand growers picked a record 180 million trays of kiwifruit this season, "
                   "the industry body said on Tuesday.\n\nWarm weather helped the crop, growers said.\n", "utf-8")
    res = lib.add([art])
    assert [a.id for a in res.added] == ["kiwi"] and lib.last_embedded == ["kiwi"]
    assert "180 million trays" in lib.ask("How many trays of kiwifruit were picked?").quotes[0].text
    # the same file again is indexed once
    again = lib.add([art])
    assert again.added == [] and "already indexed" in again.skipped[0][1]
    assert again.already == [("kiwi.txt", "kiwi")] and again.failed == [] and again.ok
    # a rebuild from seeds keeps what a user added; so does a reopen
    lib.build()
    assert "kiwi" in {a["id"] for a in lib.articles()}
    reopened = Library(index_dir=lib.index_dir, seeds_dir=SEEDS, embedder=embedder)
    assert {a["id"]: a["origin"] for a in reopened.articles()}["kiwi"] == "user"
    # remove
    lib.remove("kiwi")
    assert "kiwi" not in {a["id"] for a in lib.articles()}
    with pytest.raises(KeyError):
        lib.remove("kiwi")


def test_same_title_different_articles_both_kept(fresh_library):
    a = ("same.txt", b"Same Title\n\nThe first article talks about apples and orchards.\n")
    b = ("same.txt", b"Same Title\n\nThe second article talks about submarines and harbours.\n")
    res = fresh_library.add([a, b])
    assert len(res.added) == 2 and res.added[0].id != res.added[1].id


def test_bad_upload_changes_nothing(fresh_library):
    before = store.read_manifest(fresh_library.index_dir)
    res = fresh_library.add([("evil.txt", b"\x89PNG\r\n\x1a\n\x00\x00"), ("empty.md", b"")])
    assert res.added == [] and len(res.skipped) == 2
    assert res.failed == res.skipped and res.already == [] and not res.ok
    assert store.read_manifest(fresh_library.index_dir) == before


def test_add_result_splits_added_already_and_failed(fresh_library):
    kiwi = ("kiwi.txt", b"Kiwi\n\nGrowers picked 180 million trays of kiwifruit.\n")
    fresh_library.add([kiwi])
    res = fresh_library.add([("ferry.md", b"# Ferry\n\nThe new ferry carries 300 cars.\n"), kiwi,
                             ("kiwi-copy.txt", kiwi[1]), ("pic.txt", b"\x89PNG\r\n\x1a\n\x00\x00"),
                             ("ferry-again.md", b"# Ferry\n\nThe new ferry carries 300 cars.\n")])
    assert [a.id for a in res.added] == ["ferry"]
    assert res.already == [("kiwi.txt", "kiwi"), ("kiwi-copy.txt", "kiwi"), ("ferry-again.md", "ferry")]
    assert [name for name, _ in res.failed] == ["pic.txt"] and not res.ok
    # the older view: bad files first, then the duplicates, as before
    assert res.skipped == [*res.failed, ("kiwi.txt", "already indexed as kiwi"),
                           ("kiwi-copy.txt", "already indexed as kiwi"), ("ferry-again.md", "already indexed as ferry")]
    assert AddResult([], []).ok  # built the old way, still a result


def test_first_use_builds_from_seeds(tmp_path, embedder):
    lib = Library(index_dir=tmp_path / "new-index", seeds_dir=SEEDS, embedder=embedder)
    assert lib.ask(CARD_QUESTION).answered
    assert store.read_manifest(tmp_path / "new-index")["counts"]["articles"] == 2


def test_damaged_index_is_rebuilt_from_stored_articles(fresh_library, embedder, capsys):
    lib = fresh_library
    lib.add([("kiwi.txt", b"Kiwi\n\nGrowers picked 180 million trays of kiwifruit.\n")])
    m = store.read_manifest(lib.index_dir)
    vec = lib.index_dir / m["data"] / "sentence_vectors.npy"
    vec.write_bytes(vec.read_bytes()[:100])  # truncated
    reopened = Library(index_dir=lib.index_dir, seeds_dir=SEEDS, embedder=embedder)
    assert "180 million" in reopened.ask("How many trays of kiwifruit?").quotes[0].text
    assert "truncated or damaged" in capsys.readouterr().err


def test_unreadable_manifest_is_rebuilt_keeping_user_articles(fresh_library, embedder):
    lib = fresh_library
    lib.add([("kiwi.txt", b"Kiwi\n\nGrowers picked 180 million trays of kiwifruit.\n")])
    (lib.index_dir / "manifest.json").write_text("{not json")
    reopened = Library(index_dir=lib.index_dir, seeds_dir=SEEDS, embedder=embedder)
    ids = {a["id"] for a in reopened.articles()}
    assert {"kiwi", "000_54ba8922c5d040e6", "003_42d2fca0b8d62e31"} <= ids


def test_a_second_library_on_the_same_folder_sees_changes(fresh_library, embedder):
    other = Library(index_dir=fresh_library.index_dir, seeds_dir=SEEDS, embedder=embedder)
    assert "kiwi" not in {a["id"] for a in other.articles()}
    fresh_library.add([("kiwi.txt", b"Kiwi\n\nGrowers picked 180 million trays of kiwifruit.\n")])
    assert "180 million" in other.ask("How many trays of kiwifruit?").quotes[0].text


def test_questions_do_not_wait_for_an_upload_being_indexed(fresh_library, monkeypatch):
    import threading
    from qa import index as ix
    lib = fresh_library
    lib.ask(CARD_QUESTION)
    entered, release = threading.Event(), threading.Event()
    real_build = ix.build

    def slow_build(*a, **kw):  # an upload whose embedding takes as long as we like
        entered.set()
        assert release.wait(60)
        return real_build(*a, **kw)

    monkeypatch.setattr(ix, "build", slow_build)
    t = threading.Thread(target=lib.add, args=([("kiwi.txt", b"Kiwi\n\nGrowers picked 180 million trays.\n")],))
    t.start()
    try:
        assert entered.wait(60)
        done = []
        asker = threading.Thread(target=lambda: done.append(lib.ask(CARD_QUESTION)))
        asker.start()
        asker.join(30)  # generous: it must not be waiting on the upload, which waits on us
        assert done and done[0].quotes[0].text.startswith("Russia is not a member")
    finally:
        release.set()
        t.join(60)
    assert "kiwi" in {a["id"] for a in lib.articles()}


def test_a_new_thread_searches_on_one_openmp_thread(seed_library):
    """OpenMP's thread count is per thread: a web server's worker thread starts with every core,
    which made one question slower; the first search in a thread sets it to one."""
    import threading
    import faiss
    seed_library.ask("Why isn't Russia in the coalition?")  # loaded here, not in the thread
    got = []

    def worker():
        faiss.omp_set_num_threads(2)  # as a fresh thread on a machine with cores to spare
        seed_library.ask("Why isn't Russia in the coalition?")
        got.append(faiss.omp_get_max_threads())

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert got == [1]
