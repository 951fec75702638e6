"""Checksums of the index's files: recorded when a generation is written, checked when it is
loaded and, in full, by `python -m qa verify`.

The manifest's `checksums` gives, for every file of the live generation, its size, the BLAKE2b
of its bytes and the BLAKE2b of a sample (its size and 16 blocks of 64 KiB spread over it).
Loading hashes whole the JSON files (the articles' text is in entries.jsonl) and every file up
to `LOAD_FULL_MAX`: about 60 ms for a 40k-sentence index. Larger files (vectors, FAISS and BM25
arrays: gigabytes at a million sentences, mostly memory-mapped so that serving reads only what
a question needs) get their size and sample checked, since hashing them whole would read every
byte from disk at every start (BLAKE2b runs at about 0.5 GB/s a core). `verify` hashes every
file whole and checks every stored article file against its fingerprint.

What is left out: what the files contain (`qa.index`), how they are written (`qa.store`).
"""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .articles import PARSER_VERSION, fingerprint
from .store import IndexFileError, read_manifest

LOAD_FULL_MAX = 4 * 1024 * 1024  # bytes: hashed whole on load up to this (under 10 ms each)
SAMPLE_BLOCKS, SAMPLE_BYTES = 16, 64 * 1024


def _blake2b():
    return hashlib.blake2b(digest_size=32)


def digest(path: Path) -> str:
    """BLAKE2b-256 of a file's bytes (read in blocks; hashlib lets other threads run meanwhile)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, _blake2b).hexdigest()


def sample_digest(path: Path, size: int) -> str:
    """BLAKE2b-256 of a file's size and SAMPLE_BLOCKS blocks at fixed places, first and last among
    them: catches a file cut or zero-filled at either end, or overwritten, for a millisecond."""
    h = _blake2b()
    h.update(size.to_bytes(8, "little"))
    with open(path, "rb") as f:
        if size <= SAMPLE_BLOCKS * SAMPLE_BYTES:
            h.update(f.read())
        else:
            step = (size - SAMPLE_BYTES) / (SAMPLE_BLOCKS - 1)
            for i in range(SAMPLE_BLOCKS):
                f.seek(round(i * step))
                h.update(f.read(SAMPLE_BYTES))
    return h.hexdigest()


def _pool() -> ThreadPoolExecutor:
    # hashlib hashes without the GIL: files hash side by side, one a core
    return ThreadPoolExecutor(min(8, os.cpu_count() or 1))


def _largest_first(paths: list[Path], work) -> dict[Path, object]:
    """`work(path)` for every path, largest files first so that no large one is left till last."""
    order = sorted(paths, key=lambda p: -p.stat().st_size if p.exists() else 0)
    with _pool() as pool:
        return dict(zip(order, pool.map(work, order)))


def record(data_dir: Path) -> dict[str, dict]:
    """The `checksums` of a generation just written: every file under `data_dir`, by its path
    relative to it."""
    def one(p: Path) -> dict:
        size = p.stat().st_size
        return {"size": size, "blake2b": digest(p), "sample": sample_digest(p, size)}
    done = _largest_first([p for p in data_dir.rglob("*") if p.is_file()], one)
    return {p.relative_to(data_dir).as_posix(): done[p] for p in sorted(done)}


def _problem(path: Path, rec: dict, full: bool) -> str | None:
    """What is wrong with one file against its record, or None."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return f"unreadable ({e.strerror or e.__class__.__name__})"
    if size != rec.get("size"):
        return f"size {size} != {rec.get('size')} in the manifest (truncated or damaged)"
    if "blake2b" not in rec:  # written before checksums: its size is all there is to check
        return None
    if full or size <= LOAD_FULL_MAX or path.suffix in (".json", ".jsonl"):
        if digest(path) != rec.get("blake2b"):
            return "checksum differs from the manifest"
    elif sample_digest(path, size) != rec.get("sample"):
        return "sampled blocks differ from the manifest"
    return None


def _records(manifest: dict) -> dict[str, dict]:
    """What the manifest says of each file of its generation: its checksums, or for a generation
    written before them, the sizes it listed."""
    return manifest.get("checksums") or {name: {"size": size} for name, size in manifest.get("files", {}).items()}


def check_generation(data_dir: Path, manifest: dict) -> None:
    """On load: raise IndexFileError naming the first damaged file. Small and JSON files are
    hashed whole, large ones by size and sample (see the module's docstring); a generation
    written before checksums by the sizes its manifest lists."""
    for name, rec in _records(manifest).items():
        problem = _problem(data_dir / name, rec, full=False)
        if problem:
            raise IndexFileError(f"{data_dir / name}: {problem}")


# ------------------------------------------------------------------ verify

@dataclass
class Report:
    """What `verify` found. `damaged`: (path relative to the index folder, what is wrong: "missing",
    or which check failed)."""
    files: int = 0  # data files checked
    articles: int = 0  # stored article files checked
    seconds: float = 0.0
    checksums: bool = True  # False: written before checksums, data files checked by size alone
    damaged: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damaged

    def summary(self) -> str:
        how = "" if self.checksums else " (by size only: no checksums in this index)"
        if self.ok:
            return f"ok: {self.files} files{how}, {self.articles} articles checked in {self.seconds:.2f} s"
        bad_articles = sum(name.startswith("articles/") for name, _ in self.damaged)
        return (f"damaged: {len(self.damaged) - bad_articles} of {self.files} files{how}, "
                f"{bad_articles} of {self.articles} articles (checked in {self.seconds:.2f} s)")


def _article_problem(path: Path, rec: dict) -> str | None:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return "missing"
    except OSError as e:
        return f"unreadable ({e.strerror or e.__class__.__name__})"
    want = rec.get("fingerprint")
    # An article kept from an index built by an older parser keeps that parser's fingerprint.
    if want and all(fingerprint(data, v) != want for v in range(PARSER_VERSION, 0, -1)):
        return "fingerprint differs from the manifest"
    return None


def verify(index_dir: Path) -> Report:
    """Hash every file of the live generation and every stored article file against the manifest.
    Raises IndexFileError when there is no usable manifest (nothing to check against)."""
    t = time.perf_counter()
    manifest = read_manifest(index_dir)
    if manifest is None:
        raise IndexFileError(f"{index_dir}: no index here (no manifest.json)")
    data = manifest["data"]
    checksums = manifest.get("checksums")
    records = _records(manifest)
    recs = {index_dir / data / name: rec for name, rec in records.items()}
    found = _largest_first(list(recs), lambda p: _problem(p, recs[p], full=True))
    articles = manifest["articles"]
    with _pool() as pool:
        article_problems = list(pool.map(lambda rec: _article_problem(index_dir / rec["file"], rec), articles))
    report = Report(files=len(records), articles=len(articles), checksums=bool(checksums))
    report.damaged = [(f"{data}/{n}", found[index_dir / data / n]) for n in sorted(records)
                      if found[index_dir / data / n]] + \
                     [(rec["file"], p) for rec, p in zip(articles, article_problems) if p]
    report.seconds = time.perf_counter() - t
    return report
