"""The index directory on disk: a versioned manifest, generations, stored article files.

Layout (see index/README.md):

    index/
      manifest.json          format, version, model, dim, counts, data dir, its files' sizes and
                             checksums (`qa.integrity`), every article
      articles/<fp16>-<id><ext>   the original bytes of every indexed article (seeds and uploads)
      data-<n>/              one generation of derived files (vectors, FAISS, BM25, tables)
      .lock                  held by the one writer

Writes are atomic: a new generation is written aside and fsynced, then the
manifest is replaced with os.replace; only then is the old generation removed.
A crash at any point leaves the previous manifest and its generation loadable,
and article files are never overwritten, so nothing a user added is lost.

What is left out: what the derived files contain (`qa.index`).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

FORMAT = "qa-index"
VERSION = 1
MANIFEST = "manifest.json"


class IndexFileError(RuntimeError):
    """The index on disk cannot be used; the message says why in one line."""


def fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Write aside, fsync, rename: readers see the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # ".tmp" so that collect_garbage finds what a killed writer left behind
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix="." + path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def fsync_tree(path: Path) -> None:
    for p in path.rglob("*"):
        if p.is_file():
            with open(p, "rb") as f:
                os.fsync(f.fileno())
    fsync_dir(path)


_locks: dict[str, object] = {}


@contextmanager
def writer_lock(index_dir: Path, timeout: float = 600):
    """One writer at a time, across processes; re-entrant within a thread."""
    from filelock import FileLock, Timeout
    index_dir.mkdir(parents=True, exist_ok=True)
    key = str((index_dir / ".lock").resolve())
    lock = _locks.setdefault(key, FileLock(key))
    try:
        lock.acquire(timeout=timeout)
    except Timeout as e:
        raise IndexFileError(f"{index_dir}: another process is writing this index") from e
    try:
        yield
    finally:
        lock.release()


def read_manifest(index_dir: Path) -> dict | None:
    """The manifest, or None when there is no index here; raises IndexFileError when it is unusable."""
    path = index_dir / MANIFEST
    if not path.exists():
        return None
    try:
        m = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise IndexFileError(f"{path}: manifest is unreadable ({e.__class__.__name__})") from e
    if not isinstance(m, dict) or m.get("format") != FORMAT:
        raise IndexFileError(f"{path}: not a qa index manifest")
    if m.get("version") != VERSION:
        raise IndexFileError(f"{path}: index format version {m.get('version')} (this qa reads {VERSION})")
    # Valid JSON of the wrong shape is as unusable as broken JSON: say so here, not as a KeyError later.
    articles = m.get("articles")
    if not isinstance(m.get("model"), str) or not isinstance(m.get("dim"), int) \
            or not re.fullmatch(r"data-\d+", str(m.get("data"))) or not isinstance(articles, list) \
            or not all(isinstance(a, dict) and isinstance(a.get("id"), str) and isinstance(a.get("file"), str)
                       and isinstance(a.get("origin"), str) for a in articles):
        raise IndexFileError(f"{path}: manifest is incomplete or malformed")
    return m


def manifest_stamp(index_dir: Path) -> tuple | None:
    """Cheap identity of the manifest file (one stat), to notice another process's write."""
    try:
        st = (index_dir / MANIFEST).stat()
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


def write_manifest(index_dir: Path, manifest: dict) -> None:
    manifest = {"format": FORMAT, "version": VERSION, **manifest}
    write_atomic(index_dir / MANIFEST, json.dumps(manifest, indent=1, ensure_ascii=False).encode("utf-8"))


def new_generation(index_dir: Path, previous: str | None) -> Path:
    n = int(previous.rsplit("-", 1)[1]) + 1 if previous and previous.startswith("data-") else 1
    while (index_dir / f"data-{n:06d}").exists():
        n += 1
    path = index_dir / f"data-{n:06d}"
    path.mkdir(parents=True)
    return path


def write_generation(index_dir: Path, write: Callable[[Path], dict]) -> str:
    """One change, atomically: `write(folder)` fills a new generation folder and returns the
    manifest naming it; the folder is fsynced, then that manifest replaces the old one, and what
    it no longer names is removed. Returns the generation's name. On any failure the new folder is
    removed and the previous index stays as it was; an OSError (disk full, read-only,
    permissions) becomes one IndexFileError line."""
    try:
        previous = (read_manifest(index_dir) or {}).get("data")
    except IndexFileError:
        previous = None
    gen = new_generation(index_dir, previous)
    try:
        manifest = write(gen)
        fsync_tree(gen)
        write_manifest(index_dir, manifest)
    except BaseException as e:
        shutil.rmtree(gen, ignore_errors=True)
        if isinstance(e, OSError):
            raise IndexFileError(f"{index_dir}: cannot write the index ({e.strerror or e}); "
                                 f"the previous index is unchanged") from e
        raise
    collect_garbage(index_dir, manifest)
    return gen.name


def article_file(article_id: str, fingerprint: str, ext: str) -> str:
    """Where an article's bytes are kept, relative to the index dir (never overwritten)."""
    return f"articles/{fingerprint[:16]}-{article_id}{ext}"


def store_article_file(index_dir: Path, article_id: str, fingerprint: str, ext: str, data: bytes) -> str:
    """Keep the original bytes of an article; returns the path relative to the index dir."""
    rel = article_file(article_id, fingerprint, ext)
    path = index_dir / rel
    if not path.exists():
        write_atomic(path, data)
    return rel


def collect_garbage(index_dir: Path, manifest: dict) -> None:
    """Remove generations and article files the manifest no longer names."""
    keep_data = manifest.get("data")
    for p in index_dir.glob("data-*"):
        if p.name != keep_data and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    keep = {a["file"] for a in manifest.get("articles", [])}
    for p in (index_dir / "articles").glob("*"):
        if f"articles/{p.name}" not in keep and not p.name.startswith("."):
            p.unlink(missing_ok=True)
    for p in [*index_dir.glob(".*.tmp"), *(index_dir / "articles").glob(".*.tmp")]:
        p.unlink(missing_ok=True)
