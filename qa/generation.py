"""One generation of the index on disk: what a write puts in its folder and in the manifest that
names it, and reading it back, as one index or as a shard set read as one (`qa.shards`,
imported only for a shard set, so a single index never loads it).

What is left out: the atomic replace of generations and the manifest's own checks (`qa.store`),
the files of one index (`qa.index`), checksums (`qa.integrity`).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from . import index as ix
from . import index_files
from . import integrity, store


def write(new: ix.Index, gen: Path, n_shards: int = 1) -> tuple[dict, ix.Index]:
    """Fill the generation folder `gen` with `new`, whole or cut into `n_shards` shards by article;
    returns the manifest naming it and the index to serve from now on (its files memory-mapped)."""
    extra = {}
    if n_shards > 1:
        from . import shards
        parts = shards.split(new, n_shards)
        sizes, extra["shards"] = shards.save(parts, gen)
        live = shards.ShardedIndex.of(parts)
    else:
        sizes = index_files.save(new, gen)
        index_files.map_saved(new, gen)
        live = new
    manifest = {
        **extra, "model": new.model, "dim": new.dim, "data": gen.name, "files": sizes,
        "checksums": integrity.record(gen),
        "counts": {"articles": len(new.entries), "paragraphs": int(len(new.para)),
                   "sentences": int(len(new.sent))},
        "articles": [{"id": e.article.id, "fingerprint": e.article.fingerprint, "origin": e.origin,
                      "file": e.file, "source_name": e.article.source_name, "title": e.article.title}
                     for e in new.entries],
        "updated": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return manifest, live


def load(index_dir: Path, manifest: dict) -> ix.Index:
    """The generation `manifest` names; any damage is one `IndexFileError` naming the file."""
    if manifest.get("shards"):
        from . import shards
        return shards.load(index_dir / manifest["data"], manifest)
    return index_files.load(index_dir / manifest["data"], manifest)


def shards_in(index: ix.Index) -> int:
    """How many shards a loaded or written index is in (1: an index of one)."""
    return len(getattr(index, "shards", None) or [index])


def shard_count(index_dir: Path, wanted: int | None, index: ix.Index | None) -> int:
    """How many shards a write of `index` makes: `wanted`, else as many as the index on disk has
    (1 for a new one); never more than it has articles."""
    n = wanted
    if n is None:
        try:
            n = len((store.read_manifest(index_dir) or {}).get("shards") or []) or 1
        except store.IndexFileError:
            n = 1
    return max(1, min(n, len(index.entries))) if index is not None else n
