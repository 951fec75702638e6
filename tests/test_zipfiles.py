"""qa.zipfiles: uploads and zip archives into article files, with hostile zips refused, not unpacked.

Hostile zips are built here in memory: with zipfile where it can write them, by patching
header bytes (encryption flag, CRC) where it cannot, and a 1 GB bomb from one deflate
block repeated, so no test compresses or holds a gigabyte.
"""

import io
import os
import stat
import struct
import tempfile
import time
import tracemalloc
import zipfile
import zlib

import pytest

from qa import Library
from qa.zipfiles import Expanded, expand

MB = 1024 * 1024


def article(i: int) -> bytes:
    return (f"Harbour Report {i}\n\nThe harbour of town {i} handled {i + 3} million tonnes of cargo "
            f"last year, port officials said.\n\nA new crane number {i} arrives in May.\n").encode()


def make_zip(entries) -> bytes:
    """entries: (name or ZipInfo, bytes) pairs, deflated."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            zf.writestr(name, data)
    return buf.getvalue()


def reasons(ex: Expanded) -> dict:
    return dict(ex.refused)


def test_good_zip_gives_its_articles_and_refuses_the_exe(tmp_path):
    path = tmp_path / "archive.zip"
    path.write_bytes(make_zip([("a.txt", article(1)), ("news/b.md", article(2)), ("c.html", article(3)),
                               ("setup.exe", b"MZ\x90\x00"), ("news/", b"")]))
    ex = expand([path])
    assert [n for n, _ in ex.files] == ["archive.zip/a.txt", "archive.zip/news/b.md", "archive.zip/c.html"]
    assert [d for _, d in ex.files] == [article(1), article(2), article(3)]
    assert ex.refused == [("archive.zip/setup.exe", "inside archive.zip: not an article file (.exe)")]


def test_plain_files_pass_through_and_a_missing_path_cannot_be_read(tmp_path):
    (tmp_path / "story.txt").write_bytes(article(1))
    ex = expand([tmp_path / "story.txt", ("dir/../web.md", article(2)), tmp_path / "gone.txt",
                 ("photo.png", b"\x89PNG"), ("notes.zip", b"just text")])
    assert ex.files == [("story.txt", article(1)), ("web.md", article(2))]
    r = reasons(ex)
    assert r["gone.txt"].startswith("cannot read")
    assert r["photo.png"] == "not an article file (.png)"
    assert r["notes.zip"].startswith("not a zip archive")


def test_a_zip_is_known_by_its_bytes_not_its_name():
    ex = expand([("upload", make_zip([("a.txt", article(1))])), ("empty.zip", make_zip([]))])
    assert ex.files == [("upload/a.txt", article(1))] and ex.refused == []


def test_traversal_and_absolute_names_are_only_names(tmp_path, monkeypatch):
    work, tmp = tmp_path / "cwd", tmp_path / "tmp"  # private, so other processes' files do not count
    work.mkdir(), tmp.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    before = (sorted(os.listdir(work)), sorted(os.listdir(tempfile.gettempdir())), sorted(os.listdir(tmp_path)))
    data = make_zip([("../../etc/passwd.txt", article(1)), ("/abs/x.txt", article(2)),
                     ("C:\\win\\y.txt", article(3)), ("..\\..\\z.txt", article(4))])
    ex = expand([("up.zip", data)])
    names = [n for n, _ in ex.files]
    assert [n.rsplit("/", 1)[-1] for n in names] == ["passwd.txt", "x.txt", "y.txt", "z.txt"]
    assert all(n.startswith("up.zip/") and ".." not in n and "\\" not in n and ":" not in n for n in names)
    assert (sorted(os.listdir(work)), sorted(os.listdir(tmp)), sorted(os.listdir(tmp_path))) == before == ([], [], ["cwd", "tmp"])


def test_symlink_entry_is_refused_not_followed():
    link = zipfile.ZipInfo("link.txt")
    link.create_system = 3
    link.external_attr = (stat.S_IFLNK | 0o777) << 16
    ex = expand([("a.zip", make_zip([(link, "/etc/passwd"), ("ok.txt", article(1))]))])
    assert [n for n, _ in ex.files] == ["a.zip/ok.txt"]
    assert reasons(ex)["a.zip/link.txt"] == "inside a.zip: a symbolic link (not followed)"


def test_archives_inside_archives_are_not_opened():
    inner = make_zip([("a.txt", article(1))])
    ex = expand([("outer.zip", make_zip([("inner.zip", inner), ("disguised.txt", inner),
                                         ("x.tar.gz", b"\x1f\x8b\x08")]))])
    assert ex.files == []
    assert set(reasons(ex).values()) == {"inside outer.zip: archives inside archives are not opened"}
    assert len(ex.refused) == 3


def test_too_many_entries_refuses_the_zip_without_reading_any(monkeypatch):
    data = make_zip([(f"{i}.txt", article(i)) for i in range(11)])
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: pytest.fail("an entry was read"))
    ex = expand([("many.zip", data)], max_entries=10)
    assert ex.files == [] and ex.refused == [("many.zip", "too many entries (11; the limit is 10)")]


def test_total_size_is_checked_while_reading_and_refuses_the_zip_whole():
    # Each entry is under the per-file cap, so only the running total can stop it.
    data = make_zip([(f"{i}.txt", bytes(MB)) for i in range(50)])
    assert len(data) < 100_000
    ex = expand([("bomb.zip", data)], max_total_bytes=10 * MB)
    assert ex.files == []
    assert ex.refused == [("bomb.zip", "unpacks to more than 10 MB; refused whole (a zip bomb?)")]
    # the total is for the whole call: what came before counts
    ex = expand([("a.txt", article(1)), ("b.zip", make_zip([("c.txt", article(2))]))],
                max_total_bytes=len(article(1)) + 10)
    assert ex.files == [("a.txt", article(1))]
    assert ex.refused[0][1].endswith("with the files before it; refused whole (a zip bomb?)")


def test_per_file_cap_inside_a_zip_and_outside(tmp_path):
    data = make_zip([("big.txt", bytes(2000)), ("ok.txt", article(1))])
    ex = expand([("a.zip", data)], max_file_bytes=1000)
    assert [n for n, _ in ex.files] == ["a.zip/ok.txt"]
    assert reasons(ex)["a.zip/big.txt"] == "inside a.zip: larger than 1,000 bytes"
    (tmp_path / "big.txt").write_bytes(bytes(2000))
    assert expand([tmp_path / "big.txt"], max_file_bytes=1000).refused == [("big.txt", "larger than 1,000 bytes")]


def raw_zip(name: bytes, payload: bytes, crc: int, size: int, flags: int = 0, method: int = 8) -> bytes:
    """One entry whose header fields are what we say (sizes and CRC may lie), payload already compressed."""
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, flags, method, 0, 0x21, crc, len(payload), size,
                        len(name), 0) + name
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, flags, method, 0, 0x21, crc,
                          len(payload), size, len(name), 0, 0, 0, 0, 0, 0) + name
    body = local + payload
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(body), 0)
    return body + central + end


def zeros_bomb(gigabytes: int = 1) -> tuple[bytes, int]:
    """Raw deflate of `gigabytes` GB of zeros (~1 MB) and its CRC: one fully flushed block, repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(bytes(MB)) + c.flush(zlib.Z_FULL_FLUSH)
    n = 1024 * gigabytes
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(bytes(MB), crc)
    return block * n + zlib.compressobj(9, zlib.DEFLATED, -15).flush(), crc


@pytest.mark.parametrize("claimed, why", [(1 << 30, "larger than 10 MB"),
                                          (4000, "corrupt or unreadable entry (Bad CRC-32 for file 'bomb.txt')")],
                         ids=["honest-header", "lying-header"])
def test_a_1gb_zip_bomb_is_refused_quickly_in_bounded_memory(claimed, why):
    payload, crc = zeros_bomb()
    assert len(payload) < 2 * MB
    data = raw_zip(b"bomb.txt", payload, crc, claimed)
    tracemalloc.start()
    t = time.perf_counter()
    ex = expand([("bomb.zip", data), ("ok.txt", article(1))])
    elapsed = time.perf_counter() - t
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert ex.files == [("ok.txt", article(1))]
    assert ex.refused == [("bomb.zip/bomb.txt", f"inside bomb.zip: {why}")]  # a lying size stops zipfile early
    assert elapsed < 5 and peak < 64 * MB


def test_encrypted_entry_is_refused():
    data = bytearray(make_zip([("secret.txt", article(1))]))
    data[6] |= 0x1  # general purpose flag, bit 0: encrypted, in the local header
    data[data.index(b"PK\x01\x02") + 8] |= 0x1  # and in the central directory
    ex = expand([("locked.zip", bytes(data))])
    assert ex.files == []
    assert ex.refused == [("locked.zip/secret.txt",
                           "inside locked.zip: encrypted (password-protected entries are not opened)")]


def test_corrupt_and_truncated_zips_are_refused_never_crash():
    good = make_zip([("a.txt", article(1)), ("b.txt", article(2))])
    bad_crc = raw_zip(b"a.txt", zlib.compress(article(1))[2:-4], zlib.crc32(article(1)) ^ 1, len(article(1)))
    ex = expand([("crc.zip", bad_crc), ("cut.zip", good[: len(good) // 2])])
    assert ex.files == []
    r = reasons(ex)
    assert r["crc.zip/a.txt"].startswith("inside crc.zip: corrupt or unreadable entry (Bad CRC-32")
    assert r["cut.zip"].startswith("not a readable zip archive")
    for i in range(4, len(good)):  # every single-byte corruption: a refusal or a file, never an exception
        hurt = bytearray(good)
        hurt[i] ^= 0xFF
        ex = expand([("hurt.zip", bytes(hurt))])
        assert all(isinstance(d, bytes) for _, d in ex.files) and all(isinstance(w, str) for _, w in ex.refused)


def test_duplicate_entry_names_are_both_kept():
    with pytest.warns(UserWarning, match="Duplicate name"):
        data = make_zip([("a.txt", article(1)), ("a.txt", article(2))])
    assert expand([("d.zip", data)]).files == [("d.zip/a.txt", article(1)), ("d.zip/a.txt", article(2))]


def test_library_adds_the_articles_of_a_zip(tmp_path, embedder):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "seed.txt").write_bytes(article(0))
    zip_path = tmp_path / "upload.zip"
    zip_path.write_bytes(make_zip([("a.txt", article(1)), ("b.txt", article(2)), ("c.txt", article(3)),
                                   ("run.exe", b"MZ")]))
    ex = expand([zip_path])
    result = Library(index_dir=tmp_path / "index", seeds_dir=seeds, embedder=embedder).add(ex.files)
    assert sorted(a.source_name for a in result.added) == ["a.txt", "b.txt", "c.txt"]
    assert result.skipped == [] and len(ex.refused) == 1
