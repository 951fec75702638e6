"""One generation of an `Index` on disk: `save` writes its derived files (plain .npy / .json /
FAISS / bm25s files), `map_saved` points the index just written at them, and `load` reads a
generation back, memory-mapped, checking the manifest's model, dimension and counts against
what it finds; any damage becomes one `IndexFileError` naming the file.

What is left out: the index itself and its build (`qa.index`), the manifest, generations and
atomic writes (`qa.store`, `qa.generation`), the integrity check (`qa.integrity`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from . import integrity, vectors
from .articles import Article
from .bm25 import TermCounts
from .index import Entry, Index, pack_who
from .store import IndexFileError

_FILES = ("entries.jsonl", "sentences.npy", "paragraphs.npy", "sentence_vectors.npy",
          "paragraph_vectors.npy", "sentences.faiss", "paragraphs.faiss", "who.npy", "who.json", "attribution.json",
          "sentence_hubness.npy",
          *(f"{d}/{f}" for d in ("bm25_sentences", "bm25_paragraphs") for f in TermCounts._FILES))


def save(index: Index, data_dir: Path) -> dict:
    """Write the derived files into `data_dir` (a fresh generation); returns their sizes."""
    import faiss
    pack_who(index)
    lines = [json.dumps({"origin": e.origin, "file": e.file, **e.article.to_record()}, ensure_ascii=False)
             for e in index.entries]
    (data_dir / "entries.jsonl").write_text("\n".join(lines) + ("\n" if lines else ""), "utf-8")
    np.save(data_dir / "sentences.npy", index.sent)
    np.save(data_dir / "paragraphs.npy", index.para)
    np.save(data_dir / "sentence_vectors.npy", vectors.exact_vectors(index.sent_vecs))
    np.save(data_dir / "paragraph_vectors.npy", vectors.exact_vectors(index.para_vecs))
    np.save(data_dir / "who.npy", index.who if index.who is not None else np.zeros((0, 3), np.int32))
    (data_dir / "who.json").write_text(json.dumps(index.who_names, ensure_ascii=False), "utf-8")
    (data_dir / "attribution.json").write_text(json.dumps({"version": index.attribution}), "utf-8")
    if index.sent_hub is not None and len(index.sent_hub) == len(index):
        np.save(data_dir / "sentence_hubness.npy", index.sent_hub)
    faiss.write_index(index.faiss, str(data_dir / "sentences.faiss"))
    faiss.write_index(index.faiss_para, str(data_dir / "paragraphs.faiss"))
    for bm, name in ((index.bm25_sent, "bm25_sentences"), (index.bm25_para, "bm25_paragraphs")):
        bm.save(str(data_dir / name), show_progress=False)
        counts = getattr(bm, "_qa_counts", None)
        if counts is not None:
            counts.save(data_dir / name)
    return {name: (data_dir / name).stat().st_size for name in _FILES if (data_dir / name).exists()}


def _open_bm25(data_dir: Path, name: str):
    """A bm25s index memory-mapped (a question reads the postings of its few terms), with the
    term counts it was made from, also mapped (read only when articles are added)."""
    import bm25s
    bm = bm25s.BM25.load(str(data_dir / name), mmap=True, show_progress=False)
    bm._qa_counts = TermCounts.load(data_dir / name, bm.vocab_dict)
    if bm._qa_counts is not None and len(bm._qa_counts) != bm.scores["num_docs"]:
        raise ValueError(f"{name}: term counts for {len(bm._qa_counts)} documents, BM25 for {bm.scores['num_docs']}")
    return bm


def map_saved(index: Index, data_dir: Path) -> None:
    """Point an index just saved to `data_dir` at its files, memory-mapped as `load` maps them:
    the process that wrote a large index then holds no more of it in its own memory than one
    that loaded it."""
    index.sent_vecs = vectors.serving_vectors(index.faiss, np.load(data_dir / "sentence_vectors.npy", mmap_mode="r"))
    index.para_vecs = vectors.serving_vectors(index.faiss_para, np.load(data_dir / "paragraph_vectors.npy", mmap_mode="r"))
    index.bm25_sent, index.bm25_para = _open_bm25(data_dir, "bm25_sentences"), _open_bm25(data_dir, "bm25_paragraphs")


def load(data_dir: Path, manifest: dict) -> Index:
    """Read a generation back; any damage becomes one IndexFileError naming the file."""
    import faiss
    integrity.check_generation(data_dir, manifest)  # sizes; small files hashed whole, large ones sampled
    try:
        entries = []
        with open(data_dir / "entries.jsonl", encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    rec = json.loads(line)
                    entries.append(Entry(Article.from_record(rec), rec["origin"], rec["file"], rec.get("who")))
        sent = np.load(data_dir / "sentences.npy")
        who, who_names = None, [None]
        if (data_dir / "who.npy").exists():  # older generations kept it in entries.jsonl
            who = np.load(data_dir / "who.npy")
            who_names = json.loads((data_dir / "who.json").read_text("utf-8"))
        attributed = json.loads((data_dir / "attribution.json").read_text("utf-8"))["version"] \
            if (data_dir / "attribution.json").exists() else 1  # written before the rules had versions
        para = np.load(data_dir / "paragraphs.npy")
        hub = np.load(data_dir / "sentence_hubness.npy") if (data_dir / "sentence_hubness.npy").exists() \
            else None  # older generations: worked out on first use (qa.search.sentence_hubness)
        # Memory-mapped: search reads only its candidates' rows, so a large index
        # is served without holding every float vector in RAM (and an IVF over codes
        # reads them from its codes instead: `serving_vectors`).
        sent_vecs = np.load(data_dir / "sentence_vectors.npy", mmap_mode="r")
        para_vecs = np.load(data_dir / "paragraph_vectors.npy", mmap_mode="r")
        fx = faiss.read_index(str(data_dir / "sentences.faiss"))
        fxp = faiss.read_index(str(data_dir / "paragraphs.faiss")) \
            if (data_dir / "paragraphs.faiss").exists() else None  # older generations: built on first use
        for f in (fx, fxp):
            if f is not None:
                vectors.search_params(f)
        vectors.serve_threads()
        bm_s, bm_p = _open_bm25(data_dir, "bm25_sentences"), _open_bm25(data_dir, "bm25_paragraphs")
    except (OSError, ValueError, KeyError, RuntimeError, json.JSONDecodeError) as e:
        raise IndexFileError(f"{data_dir}: damaged index file ({e.__class__.__name__}: {str(e)[:120]})") from e
    dim = int(manifest["dim"])
    counts = manifest.get("counts", {})
    if sent_vecs.shape != (len(sent), dim) or para_vecs.shape != (len(para), dim) or fx.d != dim \
            or fx.ntotal != len(sent) or counts.get("sentences", len(sent)) != len(sent) \
            or (fxp is not None and (fxp.d != dim or fxp.ntotal != len(para))) \
            or counts.get("articles", len(entries)) != len(entries) \
            or (who is not None and who.shape != (len(sent), 3)) \
            or (hub is not None and hub.shape != (len(sent),)):
        raise IndexFileError(f"{data_dir}: index files disagree with the manifest (model {manifest['model']}, dim {dim})")
    try:  # an index over codes serves its vectors from them; the float files stay mapped behind
        sent_vecs, para_vecs = vectors.serving_vectors(fx, sent_vecs), vectors.serving_vectors(fxp, para_vecs)
    except (RuntimeError, ValueError) as e:
        raise IndexFileError(f"{data_dir}: damaged index file ({e.__class__.__name__}: {str(e)[:120]})") from e
    index = Index(model=manifest["model"], dim=dim, entries=entries, sent=sent, para=para,
                  sent_vecs=sent_vecs, para_vecs=para_vecs, bm25_sent=bm_s, bm25_para=bm_p, who=who,
                  who_names=who_names, sent_hub=hub, attribution=attributed, _faiss=fx, _faiss_para=fxp)
    pack_who(index)
    return index
