"""What the cross-encoder's training needs, in one folder that travels to a machine with a GPU.

benchmarks/train_cross_encoder.py reads its training lists from the indexes and libraries of
this project (faiss, the BBC archive, the SQuAD corpus), which a bare GPU machine does not have;
the `device` tool sends the working tree and at most 64 MiB in all. So the lists are written
once here as text, beside the starting model, and the training step reads only the folder,
with torch, transformers and tokenizers (what a GPU machine's image holds):

    PACK/groups.jsonl.gz  one line per question: {"part": "train" | "dev:<name>",
                          "q": query, "c": [candidate texts], "y": [0/1], "w": repeats}
    PACK/meta.json        the token limit, the seed, what was packed
    PACK/model/           config.json, tokenizer.json, weights.safetensors: the bundled MiniLM
                          in float16, its word embeddings as int8 with a float16 scale a row
                          (31.5 MiB for 6 layers, against 87 MiB as shipped)

The trained weights come back the same way in float16, cut into parts of at most
`PART_BYTES` (the tool returns files of at most 16 MiB): `save_weights`, `load_weights`.

What is left out: which lists are made (train_cross_encoder.groups_of), the training itself.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

PART_BYTES = 15 * 2 ** 20
_EMBEDDINGS = "embeddings.word_embeddings.weight"


def write_groups(pack: Path, train: list[tuple[str, list[str], list[int]]], weights: list[int],
                 dev: dict[str, list[tuple[str, list[str], list[int]]]]) -> None:
    """The training lists (each with how many times it counts) and the dev lists."""
    pack.mkdir(parents=True, exist_ok=True)
    with gzip.open(pack / "groups.jsonl.gz", "wt", encoding="utf-8", compresslevel=9) as f:
        for (q, c, y), w in zip(train, weights):
            f.write(json.dumps({"part": "train", "q": q, "c": c, "y": y, "w": w}, ensure_ascii=False) + "\n")
        for name, groups in dev.items():
            for q, c, y in groups:
                f.write(json.dumps({"part": f"dev:{name}", "q": q, "c": c, "y": y, "w": 1}, ensure_ascii=False) + "\n")


def read_groups(pack: Path) -> tuple[list[tuple[str, list[str], list[int]]], dict[str, list]]:
    """(training lists, each repeated as often as it counts; dev lists by name)."""
    train, dev = [], {}
    with gzip.open(pack / "groups.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            g = json.loads(line)
            item = (g["q"], g["c"], g["y"])
            if g["part"] == "train":
                train += [item] * int(g["w"])
            else:
                dev.setdefault(g["part"][len("dev:"):], []).append(item)
    return train, dev


def write_model(pack: Path, model_path: Path) -> None:
    """The starting model, small enough to travel (see the module's docstring)."""
    import torch
    from safetensors.torch import load_file, save_file
    out = pack / "model"
    out.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json"):
        (out / name).write_bytes((model_path / name).read_bytes())
    state = load_file(str(model_path / "model.safetensors"))
    packed = {}
    for key, t in state.items():
        if not t.is_floating_point():  # buffers the model makes itself (position_ids)
            continue
        if key.endswith(_EMBEDDINGS):
            scale = t.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127.0
            packed[key + ".int8"] = torch.round(t / scale).to(torch.int8).contiguous()
            packed[key + ".scale"] = scale.to(torch.float16).contiguous()
        else:
            packed[key] = t.to(torch.float16).contiguous()
    save_file(packed, str(out / "weights.safetensors"))


def base_state(pack: Path) -> dict:
    """The starting model's weights in float32 (the int8 embeddings scaled back)."""
    import torch
    from safetensors.torch import load_file
    packed = load_file(str(pack / "model" / "weights.safetensors"))
    state = {}
    for key, t in packed.items():
        if key.endswith(".int8"):
            base = key[:-len(".int8")]
            state[base] = t.to(torch.float32) * packed[base + ".scale"].to(torch.float32)
        elif not key.endswith(".scale"):
            state[key] = t.to(torch.float32)
    return state


def load_model(pack: Path, layers: int, device: str = "cpu"):
    """A one-output sequence classifier: the first `layers` layers of the packed model, a new head."""
    from transformers import AutoConfig, AutoModelForSequenceClassification
    config = AutoConfig.from_pretrained(str(pack / "model"), num_labels=1, num_hidden_layers=layers)
    model = AutoModelForSequenceClassification.from_config(config)
    body = getattr(model, model.base_model_prefix)
    state = {k: v for k, v in base_state(pack).items()
             if not k.startswith("encoder.layer.") or int(k.split(".")[2]) < layers}
    missing, unexpected = body.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith("pooler.") for k in missing):
        raise ValueError(f"{pack}: the packed model does not fit ({missing[:3]} missing, {unexpected[:3]} unexpected)")
    return model.to(device)


def tokenizer(pack: Path, max_tokens: int):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(str(pack / "model" / "tokenizer.json"))
    tok.enable_truncation(max_length=max_tokens, strategy="only_second")
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def save_weights(model, out: Path, part_bytes: int = PART_BYTES) -> list[Path]:
    """The model's weights in float16 as `reader.safetensors.partNNN`, each at most `part_bytes`."""
    import torch
    from safetensors.torch import save
    data = save({k: v.detach().to("cpu", torch.float16).contiguous() for k, v in model.state_dict().items()})
    out.mkdir(parents=True, exist_ok=True)
    parts = []
    for i, at in enumerate(range(0, len(data), part_bytes)):
        parts.append(out / f"reader.safetensors.part{i:03d}")
        parts[-1].write_bytes(data[at:at + part_bytes])
    return parts


def load_weights(model, folder: Path):
    """`model` with the weights `save_weights` wrote into `folder` (in float32)."""
    import torch
    from safetensors.torch import load
    parts = sorted(Path(folder).glob("reader.safetensors.part*"))
    if not parts:
        raise FileNotFoundError(f"{folder}: no reader.safetensors.part* files")
    state = load(b"".join(p.read_bytes() for p in parts))
    model.load_state_dict({k: v.to(torch.float32) for k, v in state.items()})
    return model


def size_mib(folder: Path) -> float:
    return float(np.sum([p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()])) / 2 ** 20
