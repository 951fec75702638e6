"""The question without its topic's names (qa/topic_mask.py), a second-stage feature."""

import numpy as np

from qa import rerank
from qa.rerank import FEATURES, features
from qa.search import candidates, fuse
from qa.topic_mask import masked, masked_question, names


def test_names_are_the_capitalised_words_after_the_first():
    assert names("How many jobs will Deutsche Telekom cut?") == {"deutsche", "telekom"}
    assert names("Why did shares in the airline fall?") == set()
    # question and function words with a capital are not names
    assert names("What did the US say, and Why?") == {"us"}


def test_masking_drops_whole_words_and_possessives():
    words = {"deutsche", "telekom"}
    assert masked("Deutsche Telekom's staff will lose jobs", words) == "staff will lose jobs"
    assert masked("Telekomunikacja stays", words) == "Telekomunikacja stays"
    assert masked("No change", set()) == "No change"


def test_masked_question_keeps_what_is_asked():
    assert masked_question("How many jobs will Deutsche Telekom cut?") == "How many jobs will cut"
    assert masked_question("Why did shares in the airline fall?") is None  # names nothing
    assert masked_question("Who is Samantha Power?") is None  # nothing but the name is asked
    assert masked_question("What did Power say about Assad?") is None  # no search term is left


def _X(lib, question, encode):
    ix = lib.index
    qv = lib.embedder.encode([question])[0]
    rows, feats = candidates(ix, qv, question)
    fused = fuse(feats)
    head = np.argsort(-fused, kind="stable")[:rerank.RERANK_TOP]
    X = features(ix, qv, question, rows[head], {f: v[head] for f, v in feats.items()}, fused[head],
                 encode=encode)
    return rows[head], {f: X[:, j] for j, f in enumerate(FEATURES)}


def test_the_masked_similarity_is_the_question_without_its_names(seed_library):
    question = "What did Lavrov say about the coalition's air strikes?"
    emb = seed_library.embedder
    rows, col = _X(seed_library, question, emb.encode_few)
    qm = emb.encode_few([masked_question(question)])[0]
    assert np.isfinite(col["dense_masked"]).all() and np.isfinite(col["masked_topicless"]).all()
    assert not np.allclose(col["dense_masked"], col["dense"])
    # the cosine of the masked question with each candidate's stored vector
    stored = np.stack([np.asarray(seed_library.index.sent_vecs[int(r)], dtype=np.float32) for r in rows])
    assert np.allclose(col["dense_masked"], stored @ qm, atol=1e-5)
    # without an encoder (or a name) the masked similarities are the plain ones
    _, plain = _X(seed_library, question, None)
    assert np.allclose(plain["dense_masked"], plain["dense"])
    assert np.allclose(plain["masked_topicless"], plain["dense_topicless"])


def test_answers_read_the_masked_question(seed_library, monkeypatch):
    seen = []
    encode_few = seed_library.embedder.encode_few

    def spy(texts):
        seen.append(list(texts))
        return encode_few(texts)
    monkeypatch.setattr(seed_library.embedder, "encode_few", spy)
    seed_library.ask("What did Lavrov say about the coalition's air strikes?")
    assert ["What did say about the coalition's air strikes"] in seen
