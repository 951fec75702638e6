"""A build's per-article work, and where it runs.

Three steps make an article indexable, each a plain function of its input so it
can run anywhere: `parse` (file bytes to an `Article`), `prepare` (its sentence
spans and who said each one, `qa.attribution`) and embedding the sentences and
titled paragraphs. An *engine* runs them for a list of articles:

- `Local`: this machine. Parsing and preparing many articles go to a pool of
  worker processes, one per core (pysbd and attribution are pure Python, so
  threads would not help); embedding stays in this process, where ONNX Runtime
  already uses every core (`qa.embed`). Engines run one step at a time, so the
  pool and the model never fight over cores.
- `qa.ray_build.RayEngine`: the same functions on a Ray cluster (`--ray`).

Either way `qa.index.build` receives the same articles, spans, speakers and
vectors, in the same order, and writes the same index.

What is left out: what the index does with the results (`qa.index`), storing
article files (`qa.library`).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import sentences
from .articles import Article, ArticleError, parse_bytes
from .progress import Progress

POOL_MIN = 200  # articles below which a pool's start-up (about a second a worker) does not pay
CHUNK = 16  # articles a worker takes at a time
EMBED_BLOCK = 16_384  # texts embedded per call: sorted by length within it, and memory stays bounded


@dataclass
class Prepared:
    """An article's sentences as the index stores them."""
    spans: np.ndarray  # int32 [n, 3]: unit (paragraph, then captions) number, start, end in article.text
    who: list  # per sentence: [kind, speaker, speaker_title] (`qa.index.attribution_rows`)


# The version of qa.attribution's rules, stored with an index: an index whose sentences older rules
# attributed is attributed again at its next build (qa.index.build), its vectors kept.
# 2: straight quotation marks pair by the way they face (an archive that ran paragraphs together).
# 3: British style: "Mr Blair" is the article's Tony Blair, "Mervyn King", "Manager David Moyes",
#    "Guy Mansfield QC".
ATTRIBUTION_VERSION = 3


def attribution_rows(article: Article, spans: list[tuple[int, int]]) -> list[list]:
    """[kind, speaker, speaker_title] for the sentences of `article` at `spans` (start, end offsets
    in article.text, in order): the index's own sentence spans, so nothing is split twice."""
    import bisect
    from .attribution import attribute
    bounds = [article.paragraph_start(k) for k in range(len(article.units))]
    per_para: list[list[tuple[int, int]]] = [[] for _ in article.paragraphs]
    in_caption = []
    for s, e in spans:
        k = bisect.bisect_right(bounds, s) - 1
        in_caption.append(article.is_caption(k))
        if not in_caption[-1]:
            per_para[k].append((s - bounds[k], e - bounds[k]))
    by_start = {x.start: x for x in attribute(article, per_para)}
    out = []
    for (s, _), caption in zip(spans, in_caption):
        x = None if caption else by_start.get(s)
        out.append(["caption", None, None] if caption else
                   [x.kind, x.speaker, x.speaker_title] if x else ["narration", None, None])
    return out


def paragraph_unit(article: Article, k: int) -> str:
    """What a paragraph is embedded and matched as: the title gives it its topic."""
    return f"{article.title}\n{article.units[k]}"


def parse(item: tuple[str, bytes]) -> Article | ArticleError:
    """One file's bytes as an Article, or the ArticleError saying why not (returned, not raised,
    so a batch of files is never lost to one bad file)."""
    name, data = item
    try:
        return parse_bytes(data, name)
    except ArticleError as e:
        return e


def prepare(article: Article) -> Prepared:
    """Sentence spans of every unit of `article`, and who said each sentence."""
    spans = []
    for k, p in enumerate(article.units):  # body paragraphs, then photo captions
        base = article.paragraph_start(k)
        spans.extend((k, base + s, base + e) for s, e in sentences.split(p))
    arr = np.array(spans, dtype=np.int32).reshape(-1, 3)
    return Prepared(arr, attribution_rows(article, [(int(s), int(e)) for _, s, e in arr]))


def unit_texts(article: Article, prep: Prepared) -> list[str]:
    """What is embedded for an article: its sentences, then its titled paragraphs and captions."""
    text = article.text
    return [text[s:e] for _, s, e in prep.spans.tolist()] + \
        [paragraph_unit(article, k) for k in range(len(article.units))]


def _parse_many(items: list[tuple[str, bytes]]) -> list:
    return [parse(x) for x in items]


def _prepare_many(articles: list[Article]) -> list[Prepared]:
    return [prepare(a) for a in articles]


def encode_takes(embedder, name: str) -> bool:
    """Whether `embedder.encode` has parameter `name` (`qa.embed.Embedder` has progress and
    compute; anything with `encode(texts)`, `name` and `dim` serves as an embedder too)."""
    try:
        return name in inspect.signature(embedder.encode).parameters
    except (TypeError, ValueError):
        return False


def bf16_for(embedder, n: int) -> bool:
    """Whether a build of `n` texts embeds in bfloat16 (`qa.embed.Embedder.bf16_for`; an embedder
    without it: never), decided once for all its texts."""
    decide = getattr(embedder, "bf16_for", None)
    return bool(decide(n)) if decide else False


def encode(embedder, texts: list[str], progress: Progress, bf16: bool | None = None) -> np.ndarray:
    """`embedder.encode(texts)` with progress; an embedder whose encode takes no `progress`
    is called in slices instead. `bf16`: the build's choice (`qa.embed.Embedder.bf16_for`)."""
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    extra = {"bf16": bf16} if bf16 is not None and encode_takes(embedder, "bf16") else {}
    if encode_takes(embedder, "progress"):
        return np.asarray(embedder.encode(texts, progress=progress.advance, **extra), dtype=np.float32)
    out = []
    for i in range(0, len(texts), 1024):
        out.append(np.asarray(embedder.encode(texts[i:i + 1024], **extra), dtype=np.float32))
        progress.advance(len(out[-1]))
    return np.concatenate(out)


class Local:
    """This machine: a process pool for parsing and preparing many articles, the embedder here."""

    def __init__(self, embedder, workers: int | None = None):
        from .onnx_encoder import threads
        self.embedder = embedder
        self.workers = workers or threads()
        self._pool = None

    def _map(self, fn, chunk_fn, items: Sequence, progress: Progress) -> list:
        if self.workers < 2 or len(items) < POOL_MIN:
            out = []
            for x in items:
                out.append(fn(x))
                progress.advance(1)
            return out
        if self._pool is None:
            import multiprocessing as mp
            from concurrent.futures import ProcessPoolExecutor
            # spawn, not fork: this process may already run ONNX Runtime's and FAISS's threads
            self._pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("spawn"))
        chunks = [list(items[i:i + CHUNK]) for i in range(0, len(items), CHUNK)]
        out = []
        for res in self._pool.map(chunk_fn, chunks):  # in order
            out.extend(res)
            progress.advance(len(res))
        return out

    def parse(self, items: Sequence[tuple[str, bytes]], progress: Progress) -> list:
        return self._map(parse, _parse_many, items, progress)

    def prepare(self, articles: Sequence[Article], progress: Progress) -> list[Prepared]:
        return self._map(prepare, _prepare_many, articles, progress)

    def embed(self, texts: list[str], progress: Progress, bf16: bool | None = None) -> np.ndarray:
        # a build parses and prepares before it embeds: the workers' memory (~100 MB) goes back
        # before the model's batches take theirs (a later parse starts a pool again)
        self.close()
        return encode(self.embedder, texts, progress, bf16)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
