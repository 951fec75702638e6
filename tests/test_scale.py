"""The index at scale, in miniature: FAISS kind by size, extending instead of rebuilding,
the embedding cache and the ONNX question encoder. No timings here (benchmarks/bench.py)."""

import numpy as np
import pytest

import qa.index as ix
from qa import index_files
from qa.bm25 import TermCounts
import qa.vectors as vx
from qa.bm25 import tokenize
from qa import Library
from qa.embed import Embedder

from conftest import CARD_QUESTION, SEEDS


def _clustered(n, dim=384, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n // 20, dim)).astype(np.float32)
    x = centres[rng.integers(0, len(centres), n)] + 0.6 * rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


@pytest.mark.parametrize("kind", ["hnsw", "ivf-fp16", "ivf-sq8"])
def test_approximate_index_finds_what_exact_finds(kind):
    x = _clustered(4000)
    rng = np.random.default_rng(1)
    q = x[:200] + 0.05 * rng.standard_normal((200, x.shape[1])).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    _, exact = vx.make_faiss(x, x.shape[1], "flat").search(q, 10)
    approx_ix = vx.make_faiss(x, x.shape[1], kind)
    assert vx.kind_of(approx_ix) == kind
    _, approx = approx_ix.search(q, 10)
    assert (approx[:, 0] == exact[:, 0]).mean() >= 0.99
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact)])
    assert recall >= 0.95


def test_kind_follows_size(monkeypatch):
    assert vx.faiss_kind(10) == "flat"
    assert vx.faiss_kind(vx.EXACT_MAX + 1) == "hnsw"
    assert vx.faiss_kind(vx.CODED_MIN + 1) == "ivf-fp16"


class Counting:
    """The real embedder, counting the texts that reach the model."""

    def __init__(self, inner):
        self.inner, self.texts = inner, 0

    name = property(lambda self: self.inner.name)
    dim = property(lambda self: self.inner.dim)

    def encode(self, texts, batch_size=32):
        self.texts += len(texts)
        return self.inner.encode(texts, batch_size)


def test_adding_to_an_approximate_index_extends_it(tmp_path, seed_index_dir, embedder, monkeypatch):
    import shutil
    monkeypatch.setattr(vx, "EXACT_MAX", 10)  # the seeds' sentences and paragraphs are "large"
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    counting = Counting(embedder)
    lib = Library(index_dir=d, seeds_dir=SEEDS, embedder=counting)
    n0 = len(lib.index)
    a = tmp_path / "a.txt"
    a.write_text("Harbour news\n\nThe harbour master said the ferry will run twice a day from May. "
                 "Fares stay the same.\n", "utf-8")
    lib.add([a])
    first = lib.index
    assert vx.kind_of(first.faiss) == "hnsw" and first.faiss.ntotal == len(first) > n0

    made = []
    real_make = vx.make_faiss
    monkeypatch.setattr(vx, "make_faiss", lambda *a, **k: made.append(1) or real_make(*a, **k))
    before = counting.texts
    b = tmp_path / "b.txt"
    b.write_text("Library hours\n\nThe town library opens on Sundays from next week. "
                 "Volunteers will staff the desk.\n", "utf-8")
    lib.add([b])
    second = lib.index
    assert lib.last_embedded == [second.entries[-1].article.id]
    assert counting.texts - before == 2 + 1  # its two sentences and its one paragraph, nothing else
    assert not made, "FAISS was rebuilt instead of extended"
    assert vx.kind_of(second.faiss) == "hnsw" and second.faiss.ntotal == len(second)
    assert second.faiss_para.ntotal == len(second.para)
    assert first.faiss.ntotal == len(first)  # the old index was copied, not changed under its readers
    assert isinstance(second.sent_vecs, np.memmap) and isinstance(second.para_vecs, np.memmap)

    reopened = Library(index_dir=d, seeds_dir=SEEDS, embedder=embedder)
    assert vx.kind_of(reopened.index.faiss) == "hnsw"
    ans = reopened.ask("When does the library open on Sundays?")
    assert "library opens on Sundays" in ans.quotes[0].text
    assert reopened.ask(CARD_QUESTION).quotes[0].text.startswith("Russia is not a member")


def test_vectors_are_memory_mapped(seed_library):
    assert isinstance(seed_library.index.sent_vecs, np.memmap)


def test_embedding_cache_skips_the_model(tmp_path, embedder, monkeypatch):
    e = Embedder(cache=tmp_path / "cache.sqlite")
    e._model = embedder.model  # share the loaded weights
    texts = ["The ferry runs twice a day.", "Fares stay the same.", "The ferry runs twice a day."]
    first = e.encode(texts)
    assert len(e.cache) == 2
    monkeypatch.setattr(e, "_encode", lambda *a: pytest.fail("the model was asked for a cached text"))
    again = Embedder(cache=tmp_path / "cache.sqlite")
    again._model, again._encode = embedder.model, e._encode
    assert np.array_equal(again.encode(texts), first)
    assert np.allclose(first, embedder.encode(texts), atol=1e-6)


def test_onnx_question_vector_equals_torch(embedder):
    if embedder.query_encoder is None:
        pytest.skip("onnxruntime not installed")
    qs = [CARD_QUESTION, "Who won Super Bowl 50?", "¿Qué pasó en 1973?"]
    onnx = np.stack([embedder.encode([q])[0] for q in qs])
    torch = embedder._encode(qs, 32)
    assert np.abs(onnx - torch).max() < 1e-5


def test_onnx_export_batches_equal_torch_and_torch_is_left_as_it_was(embedder, tmp_path):
    """The export traces the plain attention (faster in ONNX Runtime); a build's padded,
    length-sorted batches still give torch's vectors, and torch keeps its own attention."""
    from pathlib import Path
    from qa import onnx_encoder
    from qa.embed import resolve_model_path
    st = embedder.model
    before = st[0].auto_model.config._attn_implementation
    onnx_encoder.export(st, tmp_path / "model.onnx")
    assert st[0].auto_model.config._attn_implementation == before
    enc = onnx_encoder.OnnxEncoder(tmp_path / "model.onnx", Path(resolve_model_path(embedder.name)),
                                   st.max_seq_length)
    texts = ["Fares stay the same.", CARD_QUESTION, "A" * 3, "The harbour master said the ferry will "
             "run twice a day from May, and that the council had agreed to pay for a second boat.",
             "Harbour news\n" + " ".join(["The quay is being rebuilt after the winter storms."] * 30)]
    ref = st.encode(texts, batch_size=32, convert_to_numpy=True, normalize_embeddings=True)
    assert np.abs(enc.encode_batch(texts, batch_size=2) - ref).max() < 1e-5


# ------------------------------------------------------------------ BM25 from term counts

def _scores(bm, terms):
    """Every document's BM25 score for each of `terms` (by term, not by term id)."""
    return {t: np.asarray(bm.get_scores([t])) for t in terms if t in bm.vocab_dict}


def test_bm25_from_term_counts_equals_bm25s(seed_library):
    import bm25s
    index = seed_library.index
    tokens = tokenize([index.sentence_text(i) for i in range(len(index))]) + [[]]
    ref = bm25s.BM25()
    ref.index([t or [""] for t in tokens], show_progress=False)
    ours = TermCounts.of(tokens).bm25()
    assert ours.scores["num_docs"] == ref.scores["num_docs"] and set(ours.vocab_dict) == set(ref.vocab_dict)
    for t, s in _scores(ref, list(ref.vocab_dict)).items():
        assert np.allclose(_scores(ours, [t])[t], s, rtol=1e-6, atol=0), t


def test_adding_tokenizes_only_the_new_article_and_equals_a_full_rebuild(fresh_library, tmp_path, monkeypatch):
    lib = fresh_library
    n0 = len(lib.index)
    import qa.bm25
    seen = []
    real = qa.bm25.tokenize
    monkeypatch.setattr(qa.bm25, "tokenize", lambda texts: seen.append(len(texts)) or real(texts))
    a = tmp_path / "ferry.txt"
    a.write_text("Harbour news\n\nThe harbour master said the ferry will run twice a day from May. "
                 "Fares stay the same.\n", "utf-8")
    lib.add([a])
    index = lib.index
    assert len(index) == n0 + 2 and seen == [2, 1]  # its two sentences, then its one paragraph
    full = ix.Index(model=index.model, dim=index.dim, entries=index.entries, sent=index.sent, para=index.para,
                    sent_vecs=index.sent_vecs, para_vecs=index.para_vecs)
    ix._attach_bm25(full)
    terms = ["ferri", "harbour", "russia", "coalit", "said", "the-never-seen"]
    for merged, rebuilt in ((index.bm25_sent, full.bm25_sent), (index.bm25_para, full.bm25_para)):
        got, want = _scores(merged, terms), _scores(rebuilt, terms)
        assert got.keys() == want.keys() and all(np.allclose(got[t], want[t], rtol=1e-6) for t in want)

    seen.clear()
    lib.remove("ferry")  # removing reuses the stored counts of what stays
    again = lib.index
    assert len(again) == n0 and seen == [0, 0]
    assert "the harbour master" not in " ".join(again.sentence_text(i) for i in range(len(again))).lower()


def test_who_is_stored_compactly_and_old_generations_still_load(fresh_library, tmp_path):
    import json
    from qa import store
    index = fresh_library.index
    assert isinstance(index.who, np.ndarray) and index.who.shape == (len(index), 3)
    who = [index.sentence_who(i) for i in range(len(index))]
    assert any(w[1] for w in who), "the seeds quote someone"
    # a generation written before: 'who' lists in entries.jsonl, no who.npy, no term counts
    d = fresh_library.index_dir
    m = store.read_manifest(d)
    gen = d / m["data"]
    starts = np.searchsorted(index.column(0), np.arange(len(index.entries) + 1))
    lines = [json.loads(x) for x in (gen / "entries.jsonl").read_text("utf-8").splitlines()]
    for r, rec in enumerate(lines):
        rec["who"] = [list(w) for w in who[starts[r]:starts[r + 1]]]
    (gen / "entries.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), "utf-8")
    for name in ["who.npy", "who.json"] + [f"{b}/{f}" for b in ("bm25_sentences", "bm25_paragraphs")
                                            for f in TermCounts._FILES]:
        (gen / name).unlink()
        m["files"].pop(name, None)
    m["files"]["entries.jsonl"] = (gen / "entries.jsonl").stat().st_size
    del m["checksums"]  # nor checksums (qa.integrity)
    store.write_manifest(d, {k: v for k, v in m.items() if k not in ("format", "version")})
    old = index_files.load(gen, m)
    assert [old.sentence_who(i) for i in range(len(old))] == who
    assert old.bm25_sent._qa_counts is None
    lib = type(fresh_library)(index_dir=d, seeds_dir=fresh_library.seeds_dir, embedder=fresh_library.embedder)
    a = tmp_path / "ferry.txt"
    a.write_text("Harbour news\n\nThe harbour master said the ferry will run twice a day.\n", "utf-8")
    lib.add([a])  # BM25 made from every sentence once more, term counts stored from now on
    assert lib.index.bm25_sent._qa_counts is not None
    assert [lib.index.sentence_who(i) for i in range(len(old))] == who
    assert "ferry will run" in lib.ask("How often will the ferry run?").quotes[0].text


# ------------------------------------------------------------------ vectors served from FAISS codes

@pytest.mark.parametrize("kind, rms, worst", [("ivf-sq8", 2e-3, 0.05), ("ivf-fp16", 2e-5, 5e-4)])
def test_a_coded_index_serves_its_vectors_decoded_from_its_codes(kind, rms, worst):
    x = _clustered(4000)
    fx = vx.make_faiss(x, x.shape[1], kind)
    assert vx.kind_of(fx) == kind
    v = vx.serving_vectors(fx, x)
    assert isinstance(v, vx.CodedVectors) and vx.exact_vectors(v) is x
    assert len(v) == len(x) and v.shape == x.shape and v.dtype == np.float32
    d = np.asarray(v) - x
    assert np.sqrt((d ** 2).mean()) < rms and np.abs(d).max() < worst
    assert np.abs((d * x).sum(axis=1)).max() < worst / 5  # a vector's score against itself hardly moves
    rows = np.array([3999, 7, 7, 0, 1234], dtype=np.int64)  # unsorted, repeated
    got = v[rows]
    assert got.shape == (5, x.shape[1]) and got.dtype == np.float32
    assert np.array_equal(got[1], got[2]) and np.allclose(got, x[rows], atol=0.05)
    assert np.array_equal(np.asarray(v[np.sort(rows)], dtype=np.float32), v[rows][np.argsort(rows, kind="stable")])
    assert np.array_equal(v[10:20], v[np.arange(10, 20)]) and np.array_equal(v[::1000], v[[0, 1000, 2000, 3000]])
    assert np.array_equal(v[5], v[[5]][0]) and np.array_equal(v[-1], v[3999])
    assert np.array_equal(v[rows.astype(np.int32)], got) and np.array_equal(v[rows, 3], got[:, 3])
    mask = np.zeros(len(x), bool)
    mask[[2, 9]] = True
    assert np.array_equal(v[mask], v[[2, 9]])
    assert v[np.zeros(0, np.int64)].shape == (0, x.shape[1]) and v[5:5].shape == (0, x.shape[1])
    with pytest.raises(IndexError):
        v[np.array([len(x)])]
    # float indexes keep serving the floats themselves
    flat = x[:500]
    for kind in ("flat", "hnsw"):
        assert vx.serving_vectors(vx.make_faiss(flat, x.shape[1], kind), flat) is flat


def test_a_coded_library_serves_codes_and_builds_from_floats(tmp_path, seed_index_dir, embedder, monkeypatch):
    """Saved, loaded and after an add, an IVF over codes reads vectors from its codes; what is
    saved and carried over is still the exact floats (decoded vectors never reach a file)."""
    import shutil
    from qa import store
    monkeypatch.setattr(vx, "EXACT_MAX", 2)
    monkeypatch.setattr(vx, "CODED_MIN", 3)  # the seeds' sentences and paragraphs are "large" and coded
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    lib = Library(index_dir=d, seeds_dir=SEEDS, embedder=embedder)
    floats0 = np.array(vx.exact_vectors(lib.index.sent_vecs))
    a = tmp_path / "a.txt"
    a.write_text("Harbour news\n\nThe harbour master said the ferry will run twice a day from May. "
                 "Fares stay the same.\n", "utf-8")
    lib.add([a])  # flat -> IVF: made anew from the floats, then served from its codes
    first = lib.index
    assert vx.kind_of(first.faiss) == "ivf-fp16" and vx.kind_of(first.faiss_para) == "ivf-fp16"
    assert isinstance(first.sent_vecs, vx.CodedVectors) and isinstance(first.para_vecs, vx.CodedVectors)
    saved1 = np.load(d / store.read_manifest(d)["data"] / "sentence_vectors.npy")
    assert np.array_equal(saved1[:len(floats0)], floats0)

    reopened = Library(index_dir=d, seeds_dir=SEEDS, embedder=embedder)
    index = reopened.index
    assert isinstance(index.sent_vecs, vx.CodedVectors) and isinstance(index.para_vecs, vx.CodedVectors)
    assert np.array_equal(vx.exact_vectors(index.sent_vecs), saved1)
    assert np.allclose(index.sent_vecs[np.arange(len(index))], saved1, atol=5e-4)
    assert index.para_vecs[index.sent[:, 1]].shape == (len(index), index.dim)
    assert reopened.ask(CARD_QUESTION).quotes[0].text.startswith("Russia is not a member")

    made = []
    real_make = vx.make_faiss
    monkeypatch.setattr(vx, "make_faiss", lambda *a, **k: made.append(1) or real_make(*a, **k))
    b = tmp_path / "b.txt"
    b.write_text("Library hours\n\nThe town library opens on Sundays from next week. "
                 "Volunteers will staff the desk.\n", "utf-8")
    reopened.add([b])
    after = reopened.index
    assert not made, "FAISS was rebuilt instead of extended (carried rows compared decoded?)"
    assert isinstance(after.sent_vecs, vx.CodedVectors) and after.faiss.ntotal == len(after) == len(saved1) + 2
    saved2 = np.load(d / store.read_manifest(d)["data"] / "sentence_vectors.npy")
    assert np.array_equal(saved2[:len(saved1)], saved1)  # the old rows' exact floats, not their codes
    assert np.array_equal(vx.exact_vectors(after.sent_vecs), saved2)
    assert "library opens on Sundays" in reopened.ask("When does the library open on Sundays?").quotes[0].text
