"""Which trained model file an environment variable chooses: the shipped one, none, or another.

`QA_RERANKER` (qa/rerank.py) and `QA_CROSS_ENCODER` (qa/cross_encoder.py) work alike: unset, the
file shipped in qa/models/ if it is there; 'off' (or 0, none, false), none; a path, that file,
and an error when it is missing, rather than answering worse in silence.

`loaded` keeps one loaded model per file for the process. What is left out: how each model is
read (its own module).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Callable, TypeVar

T = TypeVar("T")
_loaded: dict[tuple[str, str], object] = {}
_lock = threading.Lock()


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


def loaded(variable: str, shipped: Path, load: Callable[[Path], T]) -> T | None:
    """The model `variable` chooses (`chosen`), read once by `load(path)` and kept; None for none."""
    path = chosen(variable, shipped)
    if path is None:
        return None
    with _lock:
        key = (variable, str(path))
        if key not in _loaded:
            _loaded[key] = load(path)
        return _loaded[key]  # type: ignore[return-value]
