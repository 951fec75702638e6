"""Checksums of the index files (`qa.integrity`): recorded at every write, checked on load and
by `python -m qa verify`, with single flipped bytes that keep every file's size."""

import json
import shutil
import subprocess
import sys

import pytest

from qa import Library, integrity, store
from qa.cli import main

from conftest import CARD_QUESTION, ROOT, SEEDS


@pytest.fixture
def index_dir(tmp_path, seed_index_dir):
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    return d


def flip(path, at=-1, bit=1):
    """Change one bit of one byte; the size stays."""
    data = bytearray(path.read_bytes())
    data[at] ^= bit
    path.write_bytes(bytes(data))


def verify(index_dir, capsys):
    rc = main(["verify", "--index", str(index_dir)])
    out, err = capsys.readouterr()
    return rc, out.strip(), err.strip().splitlines()


def test_every_file_of_the_generation_has_a_checksum(index_dir):
    m = store.read_manifest(index_dir)
    data = index_dir / m["data"]
    on_disk = {p.relative_to(data).as_posix() for p in data.rglob("*") if p.is_file()}
    assert set(m["checksums"]) == on_disk and set(m["files"]) <= on_disk
    for name, rec in m["checksums"].items():
        assert rec["size"] == (data / name).stat().st_size and rec["blake2b"] == integrity.digest(data / name)


def test_a_clean_index_verifies(index_dir, capsys):
    rc, out, err = verify(index_dir, capsys)
    n = len(store.read_manifest(index_dir)["checksums"])
    assert rc == 0 and err == [] and out.startswith(f"ok: {n} files, 2 articles checked in ")
    r = subprocess.run([sys.executable, "-m", "qa", "verify", "--index", str(index_dir)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)  # the real command, as scripts run it
    assert r.returncode == 0 and r.stdout.startswith("ok: ") and r.stderr == ""


@pytest.mark.parametrize("name", ["sentence_vectors.npy", "entries.jsonl", "sentences.faiss",
                                  "bm25_sentences/data.csc.index.npy", "who.json"])
def test_a_flipped_byte_in_a_data_file_is_named(index_dir, capsys, name):
    m = store.read_manifest(index_dir)
    flip(index_dir / m["data"] / name, at=(index_dir / m["data"] / name).stat().st_size // 2, bit=2)
    rc, out, err = verify(index_dir, capsys)
    assert rc == 1
    assert err == [f"qa: damaged: {m['data']}/{name} (checksum differs from the manifest)"]
    assert out.startswith(f"damaged: 1 of {len(m['checksums'])} files, 0 of 2 articles")


def test_a_flipped_byte_in_a_stored_article_and_a_missing_file_are_named(index_dir, capsys):
    m = store.read_manifest(index_dir)
    article = m["articles"][1]["file"]
    flip(index_dir / article, at=200, bit=32)  # a letter's case
    (index_dir / m["data"] / "who.npy").unlink()
    rc, out, err = verify(index_dir, capsys)
    assert rc == 1
    assert err == [f"qa: missing: {m['data']}/who.npy",
                   f"qa: damaged: {article} (fingerprint differs from the manifest)"]
    assert out.startswith(f"damaged: 1 of {len(m['checksums'])} files, 1 of 2 articles")


def test_an_index_written_before_checksums_is_said_to_be_so_and_its_articles_checked(index_dir, embedder, capsys):
    m = store.read_manifest(index_dir)
    del m["checksums"]
    store.write_manifest(index_dir, {k: v for k, v in m.items() if k not in ("format", "version")})
    rc, out, err = verify(index_dir, capsys)
    assert rc == 0 and "written before checksums" in err[0] and len(err) == 1
    assert out.startswith(f"ok: {len(m['files'])} files (by size only: no checksums in this index), 2 articles")
    flip(index_dir / m["articles"][0]["file"], at=100, bit=32)
    rc, out, err = verify(index_dir, capsys)
    assert rc == 1 and err[1] == f"qa: damaged: {m['articles'][0]['file']} (fingerprint differs from the manifest)"
    # and it still loads as before, without a rebuild
    assert Library(index_dir=index_dir, seeds_dir=SEEDS, embedder=embedder).ask(CARD_QUESTION).answered
    assert capsys.readouterr().err == "" and store.read_manifest(index_dir)["data"] == m["data"]


def test_no_index_is_one_line(tmp_path, capsys):
    rc, out, err = verify(tmp_path / "nothing", capsys)
    assert rc == 1 and out == "" and err == [f"qa: {tmp_path / 'nothing'}: no index here (no manifest.json)"]


@pytest.mark.parametrize("name", ["entries.jsonl", "sentence_hubness.npy", "who.json"])
def test_loading_a_damaged_small_file_rebuilds_from_the_stored_articles(index_dir, embedder, capsys, name):
    """Damage the loader itself would not notice (a letter of a paragraph, a float, a name): the
    checksum does, and the index is rebuilt as for any other damage."""
    before = [q.text for q in Library(index_dir=index_dir, seeds_dir=SEEDS, embedder=embedder).ask(CARD_QUESTION).quotes]
    capsys.readouterr()
    m = store.read_manifest(index_dir)
    path = index_dir / m["data"] / name
    text = path.read_bytes()
    flip(path, at=text.rindex(b"e") if name.endswith("json") or name.endswith("jsonl") else -1, bit=32)
    lib = Library(index_dir=index_dir, seeds_dir=SEEDS, embedder=embedder)
    assert [q.text for q in lib.ask(CARD_QUESTION).quotes] == before
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [f"qa: {path}: checksum differs from the manifest; rebuilding from the stored article files"]
    assert store.read_manifest(index_dir)["data"] != m["data"]
    assert verify(index_dir, capsys)[0] == 0


def test_large_files_are_checked_on_load_by_size_and_sampled_blocks(index_dir, monkeypatch):
    """Above LOAD_FULL_MAX a file is not read whole on load: its ends and sampled blocks are."""
    monkeypatch.setattr(integrity, "LOAD_FULL_MAX", 1024)
    monkeypatch.setattr(integrity, "SAMPLE_BYTES", 256)
    m = store.read_manifest(index_dir)
    data = index_dir / m["data"]
    m["checksums"] = integrity.record(data)  # samples of 16 blocks of 256 bytes
    path = data / "sentence_vectors.npy"
    size = path.stat().st_size
    assert size > 16 * 256 * 4
    step = (size - 256) / 15
    between = round(step / 2)  # between the first and second sampled blocks
    flip(path, at=between)
    integrity.check_generation(data, m)  # not seen on load ...
    assert integrity._problem(path, m["checksums"]["sentence_vectors.npy"], full=True)  # ... seen by verify
    flip(path, at=between)
    flip(path, at=-1)  # the last block is always sampled
    with pytest.raises(store.IndexFileError, match="sentence_vectors.npy: sampled blocks differ from the manifest"):
        integrity.check_generation(data, m)
