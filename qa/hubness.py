"""How generic a sentence is: its mean similarity to its nearest neighbours in the index.

Dense retrieval has hubs: sentences close to almost any question about their
topic ("Lavrov made clear that Russia now feels vindicated" is near every
question that names Lavrov). Cross-domain similarity local scaling (CSLS,
Conneau et al. 2018, "Word translation without parallel data") corrects for
it by subtracting each item's mean cosine to its k nearest neighbours; here the
neighbours are the other sentences of the index, and the correction is one more
feature of the fused score (`qa.search`), so its weight is fitted with the
others. On the SQuAD public half it lifts P@1 of the fitted fusion by about a
point on both the fitted and the held-out questions (benchmarks/tune.py).

Hubness is computed when sentences are indexed, from the FAISS index the
sentences are searched with. Up to REFRESH_MAX sentences every build works it
out again for all of them (a second or two), so the values, and the answers,
do not depend on the order articles were added in; above, sentences added later
get theirs against the whole index and earlier ones keep the value they had (a
full rebuild refreshes them).

What is left out: the weight (`qa.search.WEIGHTS`), storing the values (`qa.index`).
"""

from __future__ import annotations

import numpy as np

REFRESH_MAX = 20_000
K = 10  # neighbours averaged: 3, 10, 30 and 100 were tried; 10 fits SQuAD and the seeds best
_BATCH = 4096


def hubness(fx, vecs: np.ndarray, rows: np.ndarray | None = None, k: int = K) -> np.ndarray:
    """Mean inner product of each vector at `rows` (all when None) with its `k` nearest
    neighbours in the FAISS index `fx`, itself left out; float32, one value per row."""
    rows = np.arange(len(vecs)) if rows is None else np.asarray(rows, dtype=np.int64)
    out = np.zeros(len(rows), dtype=np.float32)
    n = int(fx.ntotal)
    if n < 2 or not len(rows):
        return out
    kk = min(k + 1, n)
    for i in range(0, len(rows), _BATCH):
        r = rows[i:i + _BATCH]
        d, ids = fx.search(np.ascontiguousarray(vecs[r], dtype=np.float32), kk)
        own = ids == r[:, None]
        # the row itself is normally the first hit; when it is missing (an approximate index,
        # or a duplicate ranked first) the k-th neighbour stands in for it
        keep = ~own
        keep[:, -1] &= own.any(axis=1)
        d = np.where(keep & (ids >= 0), d, 0.0)
        cnt = np.maximum((keep & (ids >= 0)).sum(axis=1), 1)
        out[i:i + len(r)] = d.sum(axis=1) / cnt
    return out
