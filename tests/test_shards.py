"""`build --shards N`: an index cut by article into shards, searched in parallel, answers as one.

The BBC slice (every article a question of tests/data/bbc_questions.jsonl names, plus
distractors) is cut into 3 shards from the single index (no re-embedding) and must give the
same answers, the same quotes in the same order, to every question of the set, with the
whole collection's BM25 and hubness. Adding and removing articles keeps the shards and the
statistics right; a damaged shard is noticed like any damaged generation.
"""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import BBC_QUESTIONS, ROOT, SEEDS


def _questions(path=BBC_QUESTIONS):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]


def _same_answers(a, b, questions) -> None:
    for q in questions:
        x = a.ask(q["question"], history=q.get("history")).to_dict()
        y = b.ask(q["question"], history=q.get("history")).to_dict()
        assert json.dumps(x, sort_keys=True) == json.dumps(y, sort_keys=True), q["id"]


@pytest.fixture(scope="module")
def bbc_pair(tmp_path_factory, bbc_slice_dir, bbc_slice_index_dir, embedder):
    """The BBC slice as one index and as 3 shards cut from it (read only)."""
    from qa import Library
    d = tmp_path_factory.mktemp("bbc-shards") / "index"
    shutil.copytree(bbc_slice_index_dir, d)
    sharded = Library(index_dir=d, seeds_dir=bbc_slice_dir, embedder=embedder, shards=3)
    sharded.build()
    assert sharded.last_embedded == []  # cut from the index, nothing embedded again
    one = Library(index_dir=bbc_slice_index_dir, seeds_dir=bbc_slice_dir, embedder=embedder)
    return one, Library(index_dir=d, seeds_dir=bbc_slice_dir, embedder=embedder)


def test_bbc_three_shards_answer_as_one_index(bbc_pair):
    one, sharded = bbc_pair
    index = sharded.index  # loaded from disk, as a reader gets it
    assert len(index.shards) == 3 and all(len(s.entries) for s in index.shards)
    assert len(index) == len(one.index) and [e.article.id for e in index.entries] == \
        [e.article.id for e in one.index.entries]
    manifest = json.loads((sharded.index_dir / "manifest.json").read_text("utf-8"))
    assert [s["dir"] for s in manifest["shards"]] == ["shard-00", "shard-01", "shard-02"]
    assert sum(s["sentences"] for s in manifest["shards"]) == manifest["counts"]["sentences"]
    _same_answers(one, sharded, _questions())


def test_shards_hold_the_whole_collections_statistics(bbc_pair):
    from qa.search import _idf, query_tokens, sentence_hubness
    one, sharded = bbc_pair
    a, b = one.index, sharded.index
    assert np.array_equal(a.sent, b.sent) and np.array_equal(a.para, b.para)
    assert np.array_equal(sentence_hubness(a), sentence_hubness(b))
    # each shard alone has its own idf; the set's is the whole collection's
    tokens = query_tokens("Which company cut jobs after profits fell at the steel plant?")
    for bm_a, bm_b in ((a.bm25_sent, b.bm25_sent), (a.bm25_para, b.bm25_para)):
        known = [t for t in tokens if t in bm_a.vocab_dict]
        assert np.array_equal(np.asarray(bm_a.get_scores(known)), bm_b.get_scores(known))
        assert _idf(bm_a, tokens, unknown=True) == _idf(bm_b, tokens, unknown=True)
    q = one.embedder.encode(["How much did the company pay?"]).astype(np.float32).reshape(1, -1)
    da, ia = a.faiss.search(q, 50)
    db, ib = b.faiss.search(q, 50)
    # the same 50 sentences and scores (FAISS orders equal scores, duplicate stories, its own way;
    # search takes them as a set)
    assert np.array_equal(np.sort(ia), np.sort(ib)) and np.array_equal(da, db)
    rows = np.array([0, 5, len(a) - 1, 17, 5])
    assert np.array_equal(np.asarray(a.sent_vecs[rows]), b.sent_vecs[rows])
    assert np.array_equal(np.asarray(a.para_vecs[3:9]), b.para_vecs[3:9])


def test_add_and_remove_keep_shards_and_statistics(tmp_path, seed_index_dir, embedder):
    from qa import Library
    one_dir, set_dir = tmp_path / "one", tmp_path / "set"
    shutil.copytree(seed_index_dir, one_dir)
    shutil.copytree(seed_index_dir, set_dir)
    one = Library(index_dir=one_dir, seeds_dir=SEEDS, embedder=embedder)
    sharded = Library(index_dir=set_dir, seeds_dir=SEEDS, embedder=embedder, shards=2)
    sharded.build()
    story = ("Title: Harbour tax vote\nSource: The Test Gazette\n\nThe council voted on Tuesday to raise the "
             "harbour tax by 12 percent. The mayor said the money would repair the sea wall.\n")
    for lib in (one, sharded):
        assert lib.add([("harbour.txt", story.encode())]).ok
    reopened = Library(index_dir=set_dir, seeds_dir=SEEDS, embedder=embedder)  # keeps its 2 shards
    assert len(reopened.index.shards) == 2 and len(reopened.index.entries) == 3
    questions = [{"id": i, "question": q} for i, q in enumerate(
        ["How much will the harbour tax rise?", "What will the money repair?", "Why isn't Russia in the coalition?",
         "Who is arming opposing sides in Syria?"])]
    _same_answers(one, reopened, questions)
    for lib in (one, reopened):
        lib.remove("harbour")
    assert len(reopened.index.shards) == 2 and len(reopened.index.entries) == 2
    _same_answers(one, reopened, questions)


def test_damaged_shard_is_noticed_and_rebuilt(tmp_path, seed_index_dir, embedder, capsys):
    from qa import Library
    from qa.integrity import verify
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    Library(index_dir=d, seeds_dir=SEEDS, embedder=embedder, shards=2).build()
    gen = d / json.loads((d / "manifest.json").read_text("utf-8"))["data"]
    (gen / "shard-01" / "sentences.npy").write_bytes(b"\x00" * 10)
    report = verify(d)
    assert not report.ok and any("shard-01/sentences.npy" in name for name, _ in report.damaged)
    lib = Library(index_dir=d, seeds_dir=SEEDS, embedder=embedder)
    assert lib.ask("Why isn't Russia in the coalition?").answered
    assert "rebuilding" in capsys.readouterr().err
    assert len(lib.index.shards) == 2 and verify(d).ok  # rebuilt as the shard set it was


def test_malformed_shard_list_is_one_clear_error(tmp_path, seed_index_dir, embedder):
    from qa import Library, shards
    from qa.store import IndexFileError
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    Library(index_dir=d, seeds_dir=SEEDS, embedder=embedder, shards=2).build()
    m = json.loads((d / "manifest.json").read_text("utf-8"))
    for bad in ([], [{"dir": "../etc"}], [{"dir": "shard-00"}, {"dir": "shard-07"}], "shard-00"):
        with pytest.raises(IndexFileError, match="shard list is malformed"):
            shards.load(d / m["data"], {**m, "shards": bad})


def test_cli_build_shards(tmp_path, seed_index_dir):
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    run = lambda *a: subprocess.run([sys.executable, "-m", "qa", *a], cwd=ROOT, capture_output=True, text=True)
    r = run("serve", "--index", str(d))  # an index of one: nothing to serve, said before Ray starts
    assert r.returncode == 1 and "not a shard set (build it with --shards N)" in r.stderr
    for bad in ("0", "65", "two"):
        r = run("build", "--index", str(d), "--seeds", str(SEEDS), "--shards", bad, "--quiet")
        assert r.returncode == 2 and "whole number of shards" in r.stderr
    assert "shards" not in json.loads((d / "manifest.json").read_text("utf-8"))  # bad input changed nothing
    r = run("build", "--index", str(d), "--seeds", str(SEEDS), "--shards", "2", "--quiet")
    assert r.returncode == 0 and "in 2 shards (0 articles embedded)" in r.stdout, r.stderr
    r = run("ask", "--index", str(d), "--json", "Why isn't Russia in the coalition?")
    assert r.returncode == 0 and json.loads(r.stdout)["answered"]
    r = run("build", "--index", str(d), "--seeds", str(SEEDS), "--shards", "1", "--quiet")
    assert r.returncode == 0 and " in 2 shards" not in r.stdout and "(0 articles embedded)" in r.stdout
    assert "shards" not in json.loads((d / "manifest.json").read_text("utf-8"))
