"""Group near-identical sentences (syndicated wire copy) so an answer shows a point once
with "N sources" instead of repeating it.

What is left out: semantic paraphrase detection (two reporters' own words are
different sources, and should both show).
"""

from __future__ import annotations

import re

class NearDuplicates:
    """Groups built one text at a time: an item joins the first group holding a near-duplicate
    of it (word sets overlapping by Jaccard >= threshold), else starts its own. Each text's
    words are read once, however many are added."""

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold
        self.groups: list[list[int]] = []
        self._sets: list[set[str]] = []

    def add(self, text: str) -> int:
        """Add the next text; returns the number of its group."""
        a = set(re.findall(r"\w+", re.sub(r"[“”\"‘’'`]", "", text.lower())))
        i = len(self._sets)
        self._sets.append(a)
        for n, g in enumerate(self.groups):
            if a and any(len(a & self._sets[j]) / len(a | self._sets[j]) >= self.threshold for j in g):
                g.append(i)
                return n
        self.groups.append([i])
        return len(self.groups) - 1


def near_duplicates(texts: list[str], threshold: float = 0.8) -> list[list[int]]:
    """Groups of indices of `texts` whose word sets overlap by Jaccard >= threshold.

    Case, punctuation and quote marks do not count. Every index is in exactly one
    group (singletons too), in order; an item joins the first group holding a
    near-duplicate of it. Quadratic: for the tens of quotes of one answer.
    """
    nd = NearDuplicates(threshold)
    for t in texts:
        nd.add(t)
    return nd.groups
