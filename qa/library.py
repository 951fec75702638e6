"""A collection of articles on disk that can be asked: build, add, remove, list, ask.

`Library(index_dir)` opens (or, on first use, builds from the seeds folder)
the index in `index_dir`. Every change goes through one writer lock and
lands atomically as a new generation (`qa.store`). A damaged index is rebuilt
from the article files stored beside it, so nothing a user added is lost.

Locations: `QA_INDEX` and `QA_SEEDS` override the defaults, `index/` and
`seeds/` in the project folder. `QA_MODEL` names another sentence-transformers
model (path or name).

What is left out: parsing, ranking and quoting (their own modules), and any UI.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from . import index as ix
from . import generation, pipeline, store
from .answer import Answer, answer
from .articles import EXTENSIONS, Article, ArticleError, parse_bytes, read_files
from .embed import Embedder, default_model
from .progress import Progress, as_progress

PROJECT = Path(__file__).resolve().parent.parent
READ_BLOCK = 2048  # seed files read and parsed at a time


def default_index_dir() -> Path:
    return Path(os.environ.get("QA_INDEX") or PROJECT / "index")


def default_seeds_dir() -> Path:
    return Path(os.environ.get("QA_SEEDS") or PROJECT / "seeds")


@dataclass(frozen=True)
class AddResult:
    """What `Library.add` did with each file: `added` now, `already` indexed before (or earlier in
    the same call), or `failed` (bad, binary, too large, unreadable). `skipped` is the older view of
    the last two (duplicates as "already indexed as ID"), kept for the callers that read it."""
    added: list[Article]
    skipped: list[tuple[str, str]]  # (file name, why): duplicates and bad files
    already: list[tuple[str, str]] = field(default_factory=list)  # (file name, id of the indexed article)
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file name, why)

    @property
    def ok(self) -> bool:
        """Every file given is in the index now, newly added or already there."""
        return not self.failed


def _text_key(a: Article) -> str:
    """Same article, whatever the file's bytes; the same story from another outlet or day
    (syndicated copy) is another source and is kept."""
    key = "\n".join((a.title, a.byline or "", a.date or "", a.url or "", a.text))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


class Library:
    def __init__(self, index_dir: str | Path | None = None, seeds_dir: str | Path | None = None,
                 model: str | None = None, embedder: Embedder | None = None, engine=None,
                 shards: int | None = None):
        self.index_dir = Path(index_dir) if index_dir else default_index_dir()
        self.seeds_dir = Path(seeds_dir) if seeds_dir else default_seeds_dir()
        self._model = model
        self._embedder = embedder
        # Where a build's per-article work runs (`qa.pipeline`): None is this machine's cores;
        # `qa.ray_build.RayEngine` a Ray cluster. The index written is the same either way.
        self.engine = engine
        # How many shards a write cuts the index into (`qa.shards`); None: as many as it has.
        self.shards = shards
        self._index: ix.Index | None = None
        self._data: str | None = None  # generation the loaded index came from
        self._stamp: tuple | None = None  # manifest identity when it was loaded or written
        self._lock = threading.RLock()
        self.last_embedded: list[str] = []  # ids embedded by the last write, for tests and progress

    # ------------------------------------------------------------ loading
    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            # Cached by model and sentence text: a rebuild after damage, or an article edited
            # in one place, embeds only text it has not seen.
            self._embedder = Embedder(self._model, cache=self.index_dir / "cache" / "embeddings.sqlite")
        return self._embedder

    @property
    def index(self) -> ix.Index:
        """The current index; reloaded when another process (the CLI, another app) changed it.

        Readers do not wait for a writer: while `add` embeds, questions keep using the index
        as it was (an Index is replaced, never changed in place)."""
        current = self._index
        if current is not None and store.manifest_stamp(self.index_dir) == self._stamp:
            return current
        with self._lock:
            if self._index is None or store.manifest_stamp(self.index_dir) != self._stamp:
                self._open()
            return self._index

    def _open(self) -> None:
        stamp = store.manifest_stamp(self.index_dir)
        try:
            manifest = store.read_manifest(self.index_dir)
        except store.IndexFileError as e:
            self._warn(f"{e}; rebuilding from the stored article files")
            self._rebuild_from_files()
            return
        if manifest is None:
            self.build()
            return
        if self._model is None and self._embedder is None:
            self._model = manifest["model"]
            if self._model != default_model():
                try:
                    self.embedder.model  # the model the index was built with must be on this machine
                except RuntimeError as e:
                    self._warn(f"{e}; using {default_model()} instead")
                    self._model, self._embedder = default_model(), None
        if manifest["model"] != self.embedder.name:
            self._warn(f"index was built with model {manifest['model']}, asked for {self.embedder.name}: rebuilding")
            self._rebuild(manifest)
            return
        if self._index is not None and self._data == manifest["data"]:
            self._stamp = stamp  # touched, not changed
            return
        try:
            self._index = generation.load(self.index_dir, manifest)
            self._data, self._stamp = manifest["data"], stamp
        except store.IndexFileError as e:
            self._warn(f"{e}; rebuilding from the stored article files")
            self._rebuild(manifest)

    def _warn(self, msg: str) -> None:
        print(f"qa: {msg}", file=sys.stderr)

    def _stored_entries(self, manifest: dict) -> list[ix.Entry]:
        entries = []
        for rec in manifest.get("articles", []):
            path = self.index_dir / rec["file"]
            try:
                a = parse_bytes(path.read_bytes(), rec.get("source_name") or path.name, rec["id"])
            except (OSError, ArticleError) as e:
                self._warn(f"cannot restore {rec['id']}: {e}")
                continue
            entries.append(ix.Entry(a, rec["origin"], rec["file"]))
        return entries

    def _rebuild(self, manifest: dict) -> None:
        with store.writer_lock(self.index_dir):
            self._commit(self._stored_entries(manifest), old=None)

    def _rebuild_from_files(self) -> None:
        """No usable manifest: the seeds and every stored article file are the collection."""
        with store.writer_lock(self.index_dir):
            entries = self._seed_entries()
            seen = {e.article.fingerprint for e in entries}
            for path in sorted((self.index_dir / "articles").glob("*")):
                if path.name.startswith(".") or path.suffix.lower() not in EXTENSIONS:
                    continue
                name = path.name.split("-", 1)[-1]
                try:
                    a = parse_bytes(path.read_bytes(), name)
                except (OSError, ArticleError):
                    continue
                if a.fingerprint not in seen:
                    seen.add(a.fingerprint)
                    entries.append(ix.Entry(self._unique(a, entries), "user", f"articles/{path.name}"))
            self._commit(entries, old=None)

    # ------------------------------------------------------------ writing
    def _seed_entries(self, progress: Progress | None = None, engine=None) -> list[ix.Entry]:
        """Every article file of the seeds folder, parsed (by `engine`, in blocks of files so a
        large folder is never all in memory at once) and stored in the index folder."""
        progress = progress or Progress()
        if not self.seeds_dir.is_dir():
            return []
        paths = [p for p in sorted(self.seeds_dir.iterdir()) if p.suffix.lower() in EXTENSIONS and p.is_file()]
        progress.phase("reading", len(paths), "articles")
        entries = []
        block = getattr(engine, "read_block", READ_BLOCK)
        for i in range(0, len(paths), block):
            items = []
            for path in paths[i:i + block]:
                try:
                    items.append((path, path.read_bytes()))
                except OSError as e:
                    self._warn(f"skipping seed {path.name}: {e}")
                    progress.advance(1)
            parsed = engine.parse([(p.name, data) for p, data in items], progress) if engine else \
                [pipeline.parse((p.name, data)) for p, data in items]
            for (path, data), a in zip(items, parsed):
                if isinstance(a, ArticleError):
                    self._warn(f"skipping seed {path.name}: {a}")
                    continue
                rel = store.store_article_file(self.index_dir, a.id, a.fingerprint, path.suffix.lower(), data)
                entries.append(ix.Entry(a, "seed", rel))
        return entries

    def _unique(self, a: Article, entries: Iterable[ix.Entry]) -> Article:
        taken = {e.article.id for e in entries}
        if a.id not in taken:
            return a
        from dataclasses import replace
        new_id = f"{a.id}-{a.fingerprint[:8]}"
        n = 2
        while new_id in taken:
            new_id, n = f"{a.id}-{a.fingerprint[:8]}-{n}", n + 1
        return replace(a, id=new_id)

    def _current(self) -> ix.Index | None:
        """Under the writer lock: the latest index on disk (another process may have written)."""
        try:
            manifest = store.read_manifest(self.index_dir)
        except store.IndexFileError:
            return None
        if manifest is None:
            return None
        if manifest["data"] != self._data or self._index is None:
            try:
                self._index = generation.load(self.index_dir, manifest)
                self._data, self._stamp = manifest["data"], store.manifest_stamp(self.index_dir)
            except store.IndexFileError:
                return None
        return self._index if self._index.model == self.embedder.name else None

    @contextmanager
    def _engine(self, given=None):
        """The engine for one write: `given`, else `self.engine`, else this machine's (closed after)."""
        if given is not None or self.engine is not None:
            yield given if given is not None else self.engine
            return
        local = pipeline.Local(self.embedder)
        try:
            yield local
        finally:
            local.close()

    def _commit(self, entries: list[ix.Entry], old: ix.Index | None, progress=None, engine=None) -> None:
        progress = as_progress(progress)
        with self._engine(engine) as work:
            new, embedded = ix.build(entries, self.embedder, old, progress, work)
        progress.phase("writing", 1, "generations")

        n_shards, live = self._shard_count(new), new

        def write(gen: Path) -> dict:
            nonlocal live
            manifest, live = generation.write(new, gen, n_shards)
            return manifest

        gen = store.write_generation(self.index_dir, write)
        self._index, self._data, self.last_embedded = live, gen, embedded
        self._stamp = store.manifest_stamp(self.index_dir)
        progress.advance(1)
        progress.close()

    def _shard_count(self, index: ix.Index | None) -> int:
        return generation.shard_count(self.index_dir, self.shards, index)

    def build(self, seeds_dir: str | Path | None = None, progress=None) -> ix.Index:
        """Sync the index with the seeds folder, keeping every user-added article.

        Unchanged articles are not re-embedded; when nothing changed, nothing is written.
        `progress`: a callable(fraction, message) or a `qa.progress.Progress` (phases with counts).
        """
        if seeds_dir:
            self.seeds_dir = Path(seeds_dir)
        if not self.seeds_dir.is_dir():
            raise ArticleError(f"{self.seeds_dir}: no such folder")
        progress = as_progress(progress)
        with self._lock, store.writer_lock(self.index_dir):
            with self._engine() as engine:
                old = self._current()
                seeds = self._seed_entries(progress, engine)
                users = [e for e in (old.entries if old else []) if e.origin == "user"]
                entries = list(seeds)
                for e in users:
                    entries.append(ix.Entry(self._unique(e.article, entries), e.origin, e.file))
                if old is not None and generation.shards_in(old) == self._shard_count(old) and \
                        getattr(old, "attribution", None) == pipeline.ATTRIBUTION_VERSION and \
                        [(e.article.id, e.article.fingerprint, e.origin) for e in entries] == \
                        [(e.article.id, e.article.fingerprint, e.origin) for e in old.entries]:
                    self.last_embedded = []
                    progress.close()
                    return old
                self._commit(entries, old, progress, engine)
            return self._index

    def add(self, files: Iterable[str | Path | tuple[str, bytes]], progress=None) -> AddResult:
        """Add article files (paths, or (name, bytes) pairs); the new ones are stored and indexed in
        one atomic step. Adding a file that is already indexed is not an error (`AddResult.already`);
        a bad one is (`AddResult.failed`, with why; `ok` is False).
        `progress`: a callable(fraction, message) or a `qa.progress.Progress`."""
        progress = as_progress(progress)
        files = list(files)
        progress.phase("reading", len(files), "articles")
        parsed, failed = read_files(files, lambda: progress.advance(1))
        if not parsed:
            progress.close()
            return AddResult([], list(failed), [], failed)
        with self._lock, store.writer_lock(self.index_dir):
            old = self._current() or self.index
            entries = list(old.entries)
            fps = {e.article.fingerprint: e.article.id for e in entries}
            texts = {_text_key(e.article): e.article.id for e in entries}
            added, already, new_files = [], [], []
            try:
                for a, data in parsed:
                    ext = Path(a.source_name).suffix.lower()
                    dup = fps.get(a.fingerprint) or texts.get(_text_key(a))
                    if dup:
                        already.append((a.source_name, dup))
                        continue
                    a = self._unique(a, entries)
                    path = self.index_dir / store.article_file(a.id, a.fingerprint, ext)
                    if not path.exists():
                        new_files.append(path)
                    rel = store.store_article_file(self.index_dir, a.id, a.fingerprint, ext, data)
                    entries.append(ix.Entry(a, "user", rel))
                    fps[a.fingerprint] = texts[_text_key(a)] = a.id
                    added.append(a)
                if added:
                    self._commit(entries, old, progress)
                else:
                    progress.close()
            except BaseException as e:
                for p in new_files:  # a failed add leaves no article file behind
                    p.unlink(missing_ok=True)
                if isinstance(e, OSError):
                    raise store.IndexFileError(f"{self.index_dir}: cannot store the articles "
                                               f"({e.strerror or e}); the previous index is unchanged") from e
                raise
        skipped = failed + [(name, f"already indexed as {dup}") for name, dup in already]
        return AddResult(added, skipped, already, failed)

    def remove(self, article_id: str) -> Article:
        with self._lock, store.writer_lock(self.index_dir):
            old = self._current() or self.index
            gone = old.article_by_id(article_id)
            if gone is None:
                raise KeyError(f"no article with id '{article_id}'")
            keep = [e for e in old.entries if e.article.id != article_id]
            self._commit(keep, old)
            return gone

    # ------------------------------------------------------------ reading
    def articles(self) -> list[dict]:
        index = self.index
        counts = index.sentence_counts()
        return [{**e.article.to_dict(), "origin": e.origin, "sentences": counts.get(e.article.id, 0),
                 "paragraphs": len(e.article.paragraphs)} for e in index.entries]

    def get(self, article_id: str) -> Article | None:
        return self.index.article_by_id(article_id)

    def ask(self, question: str, k: int = 3, history: list[str] | None = None, *,
            speaker: str | None = None, source: str | None = None,
            since: str | None = None, until: str | None = None) -> Answer:
        """Quotes answering `question`, best first. `history`: the reader's earlier questions, oldest
        first. Filters: `speaker` (a name, "Power"), `source` (outlet or author, matched loosely),
        `since`/`until` (article dates, YYYY-MM-DD, inclusive)."""
        # The index object is never changed in place, only replaced: reading it needs no lock.
        return answer(self.index, self.embedder, question, k=k, history=history,
                      speaker=speaker, source=source, since=since, until=until)


_default: dict[str, Library] = {}
_default_lock = threading.Lock()


def default_library() -> Library:
    """The library `qa.ask` asks: `QA_INDEX` (or index/), or with `QA_SERVE` set the shard set
    served on Ray Serve there (`qa.serve.Served`; "local": this process's Ray)."""
    where = os.environ.get("QA_SERVE")
    key = f"serve:{where}" if where else str(default_index_dir().resolve())
    with _default_lock:
        if key not in _default:
            if where:
                from .serve import Served
                _default[key] = Served(where)
            else:
                _default[key] = Library()
        return _default[key]


def ask(question: str, k: int = 3, history: list[str] | None = None, **filters) -> Answer:
    """Ask the default collection (`QA_INDEX`, built from `QA_SEEDS` on first use).
    `filters`: speaker, source, since, until (see `Library.ask`)."""
    return default_library().ask(question, k=k, history=history, **filters)
