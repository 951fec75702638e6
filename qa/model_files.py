"""Which trained model file an environment variable chooses: the shipped one, none, or another.

`QA_RERANKER` (qa/rerank.py) and `QA_CROSS_ENCODER` (qa/cross_encoder.py) work alike: unset, the
file shipped in qa/models/ if it is there; 'off' (or 0, none, false), none; a path, that file,
and an error when it is missing, rather than answering worse in silence.

What is left out: loading and caching the models (their own modules).
"""

from __future__ import annotations

import os
from pathlib import Path


def chosen(variable: str, shipped: Path) -> Path | None:
    """The model file `variable` names (see above); None for none."""
    where = os.environ.get(variable, "").strip()
    if where.lower() in ("off", "0", "none", "false"):
        return None
    if not where:
        return shipped if shipped.exists() else None
    path = Path(where)
    if not path.exists():
        raise FileNotFoundError(f"{variable}={where}: no such model file")
    return path
