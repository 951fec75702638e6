"""Faults, with real processes and real files: kill -9 in the middle of a write, damaged
index files, a manifest from another model, a disk that fills up.

What must hold every time: the last good index loads and gives the same answers,
nothing a user added is lost, a damaged index is named in one line and rebuilt from
the stored article files, and no half-written generation or temporary file stays behind.
"""

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy
import pytest

from qa import IndexFileError, Library
from qa import store

from conftest import ROOT

# A small collection, so that the many rebuilds below each embed a dozen sentences, not hundreds.
SEEDS = {
    "bridge.txt": "Council Approves Bridge\n\nBy Lee Park | May 2, 2022\n\nThe city council approved the new river "
                  "bridge on Monday after a long debate.\n\nThe bridge will cost 40 million dollars, the mayor said. "
                  "Work starts in the spring.\n",
    "library.md": "# Library Reopens\n\nThe central library reopened on Saturday after two years of repairs.\n\n"
                  "Visitors can borrow up to twelve books at a time, the head librarian said.\n",
}
KIWI = ("kiwi.txt", b"Kiwi Harvest Breaks Record\n\nNew Zealand growers picked a record 180 million trays "
                    b"of kiwifruit this season, the industry body said.\n")
QUESTIONS = ["How much will the bridge cost?", "How many trays of kiwifruit were picked?",
             "How many books can visitors borrow?", "What is the capital of Australia?"]
BATCH = {f"batch{i}.txt": f"Harbour Report {i}\n\nThe harbour of town {i} handled {i + 3} million tonnes of "
                          f"cargo last year, port officials said.\n\nA new crane number {i} arrives in May.\n"
         for i in range(6)}


@pytest.fixture(scope="module")
def seeds_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("faults-seeds")
    for name, text in SEEDS.items():
        (d / name).write_text(text, "utf-8")
    return d


@pytest.fixture(scope="module")
def user_index_dir(tmp_path_factory, seeds_dir, embedder):
    """A small seed collection plus one article a user added, built once for this module."""
    d = tmp_path_factory.mktemp("faults") / "index"
    Library(index_dir=d, seeds_dir=seeds_dir, embedder=embedder).add([KIWI])
    return d


@pytest.fixture
def index_dir(tmp_path, user_index_dir):
    d = tmp_path / "index"
    shutil.copytree(user_index_dir, d)
    return d


def answers(index_dir, embedder, seeds_dir):
    lib = Library(index_dir=index_dir, seeds_dir=seeds_dir, embedder=embedder)
    return [[(q.text, q.article.id) for q in lib.ask(x).quotes] for x in QUESTIONS]


def assert_clean(index_dir):
    """Only what the manifest names: its one generation, its article files, no temporary files."""
    m = store.read_manifest(index_dir)
    assert sorted(p.name for p in index_dir.glob("data-*")) == [m["data"]]
    assert {f"articles/{p.name}" for p in (index_dir / "articles").iterdir()} == {a["file"] for a in m["articles"]}
    assert not [p for p in index_dir.rglob("*.tmp")]


def warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


# ------------------------------------------------------------------ kill -9

def test_kill_9_mid_batch_keeps_the_last_good_index_and_the_batch_can_be_redone(
        tmp_path, user_index_dir, seeds_dir, embedder, capsys):
    """Two real `python -m qa add` runs of a 6-article batch, killed with SIGKILL: one while the new
    generation is half written, one after it is complete but before the manifest is replaced."""
    batch = tmp_path / "batch"
    batch.mkdir()
    for name, text in BATCH.items():
        (batch / name).write_text(text, "utf-8")
    expected = answers(user_index_dir, embedder, seeds_dir)
    runs = {}
    for point in ("generation", "manifest"):
        d = tmp_path / point / "index"
        shutil.copytree(user_index_dir, d)
        marker = tmp_path / point / "stalled"
        cmd = [sys.executable, str(ROOT / "tests" / "helpers" / "stall_add.py"), point, str(marker), str(d),
               *sorted(str(p) for p in batch.iterdir())]
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        runs[point] = (d, marker, proc, (d / "manifest.json").read_bytes())
    try:
        for point, (d, marker, proc, _) in runs.items():
            deadline = time.monotonic() + 300
            while not marker.exists():
                if proc.poll() is not None:
                    pytest.fail(f"{point}: the add ended before the kill point: {proc.stderr.read()}")
                assert time.monotonic() < deadline, f"{point}: never reached the kill point"
                time.sleep(0.1)
            os.kill(proc.pid, signal.SIGKILL)
            assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        for _, _, proc, _ in runs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    for point, (d, _, _, manifest_before) in runs.items():
        # the kill landed mid-write: there is a second generation (half or whole) on disk
        assert len(list(d.glob("data-*"))) == 2, point
        if point == "manifest":
            assert list(d.glob(".manifest.json.*.tmp")), "the new manifest was written aside"
        assert (d / "manifest.json").read_bytes() == manifest_before, point
        capsys.readouterr()
        assert answers(d, embedder, seeds_dir) == expected, point  # the last good index, as it was
        assert warnings(capsys) == [], f"{point}: the last good index loads without a rebuild"

        lib = Library(index_dir=d, seeds_dir=seeds_dir, embedder=embedder)
        res = lib.add(sorted(batch.iterdir()))
        assert sorted(a.id for a in res.added) == sorted(n.removesuffix(".txt") for n in BATCH), point
        assert res.skipped == []
        assert "4 million tonnes" in lib.ask("How much cargo did the harbour of town 1 handle?").quotes[0].text
        assert {a["id"] for a in lib.articles()} >= {"kiwi", "bridge", "library"}
        assert_clean(d)


# ------------------------------------------------------------------ damaged files

DATA_FILES = ["entries.jsonl", "sentences.npy", "paragraphs.npy", "sentence_vectors.npy",
              "paragraph_vectors.npy", "sentences.faiss", "paragraphs.faiss",
              "bm25_sentences/params.index.json", "bm25_paragraphs/vocab.index.json", "who.npy", "who.json",
              "bm25_sentences/counts.npy", "sentence_hubness.npy"]


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
@pytest.mark.parametrize("name", DATA_FILES)
def test_damaged_data_file_is_named_and_rebuilt_from_stored_articles(index_dir, seeds_dir, embedder, capsys, name, damage):
    expected = answers(index_dir, embedder, seeds_dir)
    capsys.readouterr()
    m = store.read_manifest(index_dir)
    path = index_dir / m["data"] / name
    data = path.read_bytes()
    # garbage keeps the size, so only the loader can notice
    path.write_bytes(data[:len(data) // 2] if damage == "truncated" else bytes(255 - b for b in data))
    assert answers(index_dir, embedder, seeds_dir) == expected
    lines = warnings(capsys)
    assert len(lines) == 1 and lines[0].startswith("qa: ") and "rebuilding from the stored article files" in lines[0]
    assert m["data"] in lines[0]
    assert store.read_manifest(index_dir)["data"] != m["data"]
    assert_clean(index_dir)
    answers(index_dir, embedder, seeds_dir)
    assert warnings(capsys) == []  # the rebuilt index is good


@pytest.mark.parametrize("content,message", [
    (lambda b: b[:len(b) // 2], "manifest is unreadable (JSONDecodeError)"),
    (lambda b: b"", "manifest is unreadable (JSONDecodeError)"),
    (lambda b: b"\xff\xfe\x00garbage", "manifest is unreadable (UnicodeDecodeError)"),
    (lambda b: b'{"format": "qa-index", "version": 1}', "manifest is incomplete or malformed"),
    (lambda b: json.dumps({**json.loads(b), "articles": "x"}).encode(), "manifest is incomplete or malformed"),
    (lambda b: json.dumps({**json.loads(b), "version": 99}).encode(), "index format version 99"),
], ids=["truncated", "empty", "binary", "incomplete", "malformed", "future-version"])
def test_damaged_manifest_is_named_and_rebuilt_keeping_user_articles(index_dir, seeds_dir, embedder, capsys, content, message):
    expected = answers(index_dir, embedder, seeds_dir)
    capsys.readouterr()
    path = index_dir / "manifest.json"
    path.write_bytes(content(path.read_bytes()))
    assert answers(index_dir, embedder, seeds_dir) == expected
    lines = warnings(capsys)
    assert len(lines) == 1 and message in lines[0] and "rebuilding from the stored article files" in lines[0]
    assert {a["origin"] for a in store.read_manifest(index_dir)["articles"] if a["id"] == "kiwi"} == {"user"}
    assert_clean(index_dir)


def test_manifest_from_another_model_is_reembedded(index_dir, seeds_dir, embedder, capsys):
    expected = answers(index_dir, embedder, seeds_dir)
    capsys.readouterr()
    path = index_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_bytes()), "model": "paraphrase-multilingual-mpnet"}))
    assert answers(index_dir, embedder, seeds_dir) == expected
    lines = warnings(capsys)
    assert lines == ["qa: index was built with model paraphrase-multilingual-mpnet, asked for all-MiniLM-L6-v2: "
                     "rebuilding"]
    m = store.read_manifest(index_dir)
    assert m["model"] == "all-MiniLM-L6-v2" and "kiwi" in {a["id"] for a in m["articles"]}
    assert_clean(index_dir)


def test_manifest_naming_a_model_not_on_this_machine_falls_back_to_the_default(index_dir, seeds_dir, embedder, capsys):
    """No model asked for: the manifest's model is used if it loads; if not, the default, re-embedded."""
    expected = answers(index_dir, embedder, seeds_dir)
    capsys.readouterr()
    path = index_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_bytes()), "model": str(index_dir / "no-such-model")}))
    lib = Library(index_dir=index_dir, seeds_dir=seeds_dir)  # no embedder, no model: as the CLI opens it
    assert [[(q.text, q.article.id) for q in lib.ask(x).quotes] for x in QUESTIONS] == expected
    lines = warnings(capsys)
    assert len(lines) == 2
    assert "cannot load embedding model" in lines[0] and lines[0].endswith("using all-MiniLM-L6-v2 instead")
    assert "rebuilding" in lines[1]
    assert store.read_manifest(index_dir)["model"] == "all-MiniLM-L6-v2"


def test_manifest_with_another_dimension_is_rebuilt(index_dir, seeds_dir, embedder, capsys):
    expected = answers(index_dir, embedder, seeds_dir)
    capsys.readouterr()
    path = index_dir / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_bytes()), "dim": 768}))
    assert answers(index_dir, embedder, seeds_dir) == expected
    lines = warnings(capsys)
    assert len(lines) == 1 and "index files disagree with the manifest" in lines[0] and "dim 768" in lines[0]
    assert store.read_manifest(index_dir)["dim"] == 384
    assert_clean(index_dir)


# ------------------------------------------------------------------ disk full

def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _fail_numpy_save(mp):
    mp.setattr(numpy, "save", _enospc)


def _fail_manifest_replace(mp):
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if str(dst).endswith("manifest.json"):
            _enospc()
        return real(src, dst, *args, **kwargs)
    mp.setattr(os, "replace", replace)


def _fail_article_file(mp):
    real = os.fsync

    def fsync(fd):
        if "/articles/" in os.readlink(f"/proc/self/fd/{fd}"):
            _enospc()
        return real(fd)
    mp.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("fail", [_fail_numpy_save, _fail_manifest_replace, _fail_article_file],
                         ids=["generation", "manifest", "article-file"])
def test_disk_full_leaves_the_old_index_intact(index_dir, seeds_dir, embedder, monkeypatch, fail):
    expected = answers(index_dir, embedder, seeds_dir)
    before = sorted(str(p.relative_to(index_dir)) for p in index_dir.rglob("*") if p.name != ".lock")
    manifest = (index_dir / "manifest.json").read_bytes()
    lib = Library(index_dir=index_dir, seeds_dir=seeds_dir, embedder=embedder)
    lib.index
    with monkeypatch.context() as mp:
        fail(mp)
        with pytest.raises(IndexFileError) as e:
            lib.add([(n, t.encode()) for n, t in BATCH.items()])
    msg = str(e.value)
    assert "\n" not in msg and "No space left on device" in msg and "the previous index is unchanged" in msg
    assert (index_dir / "manifest.json").read_bytes() == manifest
    assert sorted(str(p.relative_to(index_dir)) for p in index_dir.rglob("*") if p.name != ".lock") == before
    assert [[(q.text, q.article.id) for q in lib.ask(x).quotes] for x in QUESTIONS] == expected
    assert answers(index_dir, embedder, seeds_dir) == expected
    # once there is room again, the same batch goes in
    assert len(lib.add([(n, t.encode()) for n, t in BATCH.items()]).added) == 6
    assert_clean(index_dir)


def test_disk_full_through_the_cli_is_one_line(index_dir, monkeypatch, capsys, tmp_path):
    from qa.cli import main
    f = tmp_path / "one.txt"
    f.write_text(BATCH["batch0.txt"], "utf-8")
    manifest = (index_dir / "manifest.json").read_bytes()
    monkeypatch.setattr(numpy, "save", _enospc)
    assert main(["add", "--index", str(index_dir), str(f)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"qa: {index_dir}: cannot write the index (No space left on device); the previous index is unchanged"
    assert (index_dir / "manifest.json").read_bytes() == manifest
