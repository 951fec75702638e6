"""Group near-identical sentences (syndicated wire copy) so an answer shows a point once
with "N sources" instead of repeating it.

What is left out: semantic paraphrase detection (two reporters' own words are
different sources, and should both show).
"""

from __future__ import annotations

import re

def near_duplicates(texts: list[str], threshold: float = 0.8) -> list[list[int]]:
    """Groups of indices of `texts` whose word sets overlap by Jaccard >= threshold.

    Case, punctuation and quote marks do not count. Every index is in exactly one
    group (singletons too), in order; an item joins the first group holding a
    near-duplicate of it. Quadratic: for the tens of quotes of one answer.
    """
    sets = [set(re.findall(r"\w+", re.sub(r"[“”\"‘’'`]", "", t.lower()))) for t in texts]
    groups: list[list[int]] = []
    for i, a in enumerate(sets):
        near = (g for g in groups if a and any(len(a & sets[j]) / len(a | sets[j]) >= threshold for j in g))
        if (g := next(near, None)) is not None:
            g.append(i)
        else:
            groups.append([i])
    return groups
