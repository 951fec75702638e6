"""Documents in bfloat16 (`qa.bf16_encoder`): near float32's vectors, the same bits whatever
shares a batch, used only for a build's large batches and only where asked."""

from pathlib import Path

import numpy as np
import pytest

from conftest import CARD_QUESTION

TEXTS = [CARD_QUESTION, "a", "Fares stay the same.", "Die Ölkrise von 1973 — ¿qué pasó? 数字 42.",
         "The harbour master said the ferry will run twice a day from May, and that the council had "
         "agreed to pay for a second boat.",
         "Harbour news\n" + " ".join(["The quay is being rebuilt after the winter storms."] * 40)]


@pytest.fixture(scope="module")
def bf16(embedder):
    """The encoder as a build runs it: in a worker process of its own (so torch's bfloat16
    kernels never run in the test process), asked for on any CPU."""
    import os
    from qa import bf16_encoder
    from qa.embed import resolve_model_path
    before = os.environ.get("QA_BF16")
    os.environ["QA_BF16"] = "on"  # the worker inherits it when it starts
    try:
        worker = bf16_encoder.start_worker(Path(resolve_model_path(embedder.name)), threads=2)
    finally:
        if before is None:
            os.environ.pop("QA_BF16", None)
        else:
            os.environ["QA_BF16"] = before
    assert worker is not None, "the bfloat16 encoder did not load or did not agree with float32"
    yield worker
    worker.close()


def test_vectors_are_near_float32(bf16, embedder):
    ref = embedder.model.encode(TEXTS, convert_to_numpy=True, normalize_embeddings=True)
    got = bf16.encode_batch(TEXTS)
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = (got * ref).sum(1)
    assert cos.min() >= 0.999, cos
    # and not float32 itself: the test would pass for no reason if the model stayed float32
    assert np.abs(got - ref).max() > 1e-5


def test_a_text_gets_the_same_bits_whatever_shares_its_batch(bf16):
    rng = np.random.default_rng(0)
    others = [" ".join(rng.choice(["ferry", "council", "boat", "harbour", "storm", "May"], n))
              for n in rng.integers(1, 60, 40)]
    alone = bf16.encode_batch(TEXTS)
    mixed_texts = others[:20] + TEXTS[::-1] + others[20:]
    mixed = bf16.encode_batch(mixed_texts)
    assert np.array_equal(mixed[20:20 + len(TEXTS)][::-1], alone)
    one = np.stack([bf16.encode_batch([t])[0] for t in TEXTS])
    assert np.array_equal(one, alone)


def test_only_large_batches_and_only_where_asked(embedder, monkeypatch):
    from qa import bf16_encoder
    from qa.embed import BF16_MIN, Embedder
    monkeypatch.setenv("QA_BF16", "off")
    assert not bf16_encoder.wanted() and not Embedder().bf16_for(10 * BF16_MIN)
    monkeypatch.setenv("QA_BF16", "on")
    e = Embedder()
    assert bf16_encoder.wanted() and e.bf16_for(BF16_MIN) and not e.bf16_for(BF16_MIN - 1)
    assert not Embedder(onnx=False).bf16_for(10 * BF16_MIN)  # "every text on torch" means float32
    # a small call (an upload, a question's texts) stays on ONNX Runtime in float32: no torch
    e._bf16 = None
    small = e.encode(TEXTS)
    assert e._bf16 is None
    assert np.abs(small - embedder.query_encoder.encode_batch(TEXTS)).max() < 1e-6


def test_not_used_for_a_model_it_cannot_read(tmp_path, monkeypatch):
    from qa import bf16_encoder
    monkeypatch.setenv("QA_BF16", "on")
    assert bf16_encoder.load(tmp_path, threads=1) is None  # no model there
    monkeypatch.setenv("QA_BF16", "off")
    from qa.embed import resolve_model_path
    assert bf16_encoder.load(resolve_model_path("all-MiniLM-L6-v2"), threads=1) is None


def test_a_build_decides_once_for_all_its_blocks(tmp_path, embedder, monkeypatch):
    """Every block of a build's texts is embedded the same way (a last small block too), so a
    Ray build, whose blocks differ, gives the same vectors."""
    from conftest import SEEDS
    from qa import Library, pipeline
    from qa import index as ix
    seen = []

    class Recording(pipeline.Local):
        def embed(self, texts, progress, bf16=None):
            seen.append((len(texts), bf16))
            return super().embed(texts, progress, False)  # float32 here: the choice is what is tested

    monkeypatch.setattr(ix, "EMBED_BLOCK", 20)
    monkeypatch.setattr(type(embedder), "bf16_for", lambda self, n: n >= 50)
    Library(index_dir=tmp_path / "index", seeds_dir=SEEDS, embedder=embedder, engine=Recording(embedder)).build()
    assert len(seen) >= 2 and min(n for n, _ in seen) < 50 <= sum(n for n, _ in seen), seen
    assert {b for _, b in seen} == {True}
