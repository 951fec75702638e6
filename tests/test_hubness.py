"""Hubness: a sentence's mean similarity to its nearest other sentences."""
import faiss
import numpy as np

from qa.hubness import hubness


def _unit(rows):
    v = np.asarray(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_hub_is_the_mean_of_its_nearest_others_without_itself():
    v = _unit([[1, 0, 0], [1, 0.1, 0], [1, 0, 0.1], [0, 1, 0], [0, 0, 1]])
    fx = faiss.IndexFlatIP(3)
    fx.add(v)
    h = hubness(fx, v, k=2)
    sims = v @ v.T
    np.fill_diagonal(sims, -np.inf)
    expect = np.sort(sims, axis=1)[:, -2:].mean(axis=1)
    assert np.allclose(h, expect, atol=1e-6)
    # the central sentence is the biggest hub, the lone ones the smallest
    assert h.argmax() == 0 and h[3] < h[1] and h[4] < h[2]


def test_rows_subset_and_tiny_indexes():
    v = _unit(np.random.default_rng(0).normal(size=(50, 8)))
    fx = faiss.IndexFlatIP(8)
    fx.add(v)
    all_ = hubness(fx, v)
    assert np.allclose(hubness(fx, v, rows=np.array([3, 7])), all_[[3, 7]])
    one = faiss.IndexFlatIP(8)
    one.add(v[:1])
    assert hubness(one, v[:1]).tolist() == [0.0]  # nothing to be near


def test_every_seed_sentence_has_a_hubness(seed_library):
    from qa.search import sentence_hubness
    index = seed_library.index
    hub = sentence_hubness(index)
    assert hub.shape == (len(index),) and np.isfinite(hub).all()
    assert 0.0 < float(hub.min()) < float(hub.max()) < 1.0


def test_hubness_is_stored_with_the_index_and_read_back(seed_index_dir):
    from qa import store
    from qa.index_files import load
    m = store.read_manifest(seed_index_dir)
    index = load(seed_index_dir / m["data"], m)
    assert "sentence_hubness.npy" in m["files"]
    assert index.sent_hub is not None and index.sent_hub.shape == (len(index),)
    assert np.allclose(index.sent_hub, hubness(index.faiss, index.sent_vecs), atol=1e-6)
