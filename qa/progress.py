"""Progress of long work (building and adding to an index), one mechanism for every caller.

Work reports *phases*: `phase(name, total, unit)` starts one, `advance(n)` moves it,
`close()` ends the last. Three kinds of listener take the reports:

- `Terminal`: a tqdm bar per phase when the stream is a terminal (rate and ETA), plain
  lines when it is not (CI, logs): one when a phase starts, one at most every
  `every` seconds while it runs, one when it ends;
- `Callback(fn)`: `fn(fraction, message)` for the whole job, as the web chat's upload bar
  (and `Library.build/add`'s `progress=` since before phases) takes it;
- `Silent`: nothing (`--quiet`).

`as_progress(x)` turns what a caller passed (None, a callable, a Progress) into a Progress.

What is left out: the work itself; phases say what they are doing, listeners only show it.
"""

from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

# Share of a whole build each phase stands for, for a single fraction (`Callback`); the
# embedding of sentences and paragraphs is most of any build.
WEIGHTS = {"reading": 0.05, "splitting": 0.10, "embedding": 0.75, "indexing": 0.07, "writing": 0.03}


class Progress:
    """Listener interface; this base class ignores everything (the silent listener)."""

    def phase(self, name: str, total: int, unit: str = "items") -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


Silent = Progress


class Callback(Progress):
    """`fn(fraction, message)` for the whole job; called at most every `interval` seconds
    (and at every phase start), so a slow UI is not flooded."""

    def __init__(self, fn: Callable[[float, str], None], interval: float = 0.25):
        self.fn, self.interval = fn, interval
        self._name, self._total, self._done, self._unit = "", 0, 0, ""
        self._base = 0.0  # fraction of the job before the current phase
        self._last = 0.0

    def _weight(self, name: str) -> float:
        return WEIGHTS.get(name, 0.0)

    def phase(self, name: str, total: int, unit: str = "items") -> None:
        if self._name:
            self._base += self._weight(self._name)
        self._name, self._total, self._done, self._unit = name, max(0, int(total)), 0, unit
        self._emit(force=True)

    def advance(self, n: int = 1) -> None:
        self._done += n
        self._emit()

    def _emit(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval and self._done < self._total:
            return
        self._last = now
        share = self._done / self._total if self._total else 1.0
        frac = min(0.999, self._base + self._weight(self._name) * min(1.0, share))
        self.fn(frac, f"{self._name} {self._done:,} of {self._total:,} {self._unit}")

    def close(self) -> None:
        self.fn(1.0, "done")


def _duration(s: float) -> str:
    s = int(round(s))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


class Terminal(Progress):
    """tqdm bars on a terminal; plain `qa: …` lines elsewhere. A phase of fewer than `least`
    items (adding one article; the few steps of indexing) gets no bar: one line when it ends,
    and only when it took `slow` seconds or more."""

    def __init__(self, stream: TextIO | None = None, every: float = 10.0, tty: bool | None = None,
                 least: int = 20, slow: float = 1.0):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.every, self.least, self.slow = every, least, slow
        self._small = None  # (name, total, unit, start) of a phase too small for a bar
        self._bar = None
        self._name, self._unit, self._total, self._done = "", "", 0, 0
        self._t0 = self._last = 0.0

    def phase(self, name: str, total: int, unit: str = "items") -> None:
        self.close()
        if total < self.least:
            self._small = (name, int(total), unit, time.monotonic())
            return
        self._name, self._unit, self._total, self._done = name, unit, max(0, int(total)), 0
        self._t0 = self._last = time.monotonic()
        if self.tty:
            from tqdm import tqdm
            self._bar = tqdm(total=self._total, desc=name, unit=f" {unit}", file=self.stream,
                             dynamic_ncols=True, mininterval=0.5, leave=True)
        else:
            self._line(f"{name}: {self._total:,} {unit}")

    def advance(self, n: int = 1) -> None:
        self._done += n
        if self._bar is not None:
            self._bar.update(n)
            return
        if not self._name:
            return
        now = time.monotonic()
        if self._name and now - self._last >= self.every and self._done < self._total:
            self._last = now
            rate = self._done / max(now - self._t0, 1e-9)
            eta = (self._total - self._done) / rate if rate > 0 else 0.0
            self._line(f"{self._name}: {self._done:,}/{self._total:,} {self._unit} "
                       f"({100 * self._done / max(self._total, 1):.0f}%), {rate:,.0f}/s, ETA {_duration(eta)}")

    def close(self) -> None:
        if self._small is not None:
            name, total, unit, t0 = self._small
            self._small = None
            if time.monotonic() - t0 >= self.slow:
                self._line(f"{name}: {total:,} {unit} in {_duration(time.monotonic() - t0)}")
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self._name:
            dt = time.monotonic() - self._t0
            self._line(f"{self._name}: {self._done:,} {self._unit} in {_duration(dt)}")
        self._name = ""

    def _line(self, text: str) -> None:
        print(f"qa: {text}", file=self.stream, flush=True)


def as_progress(x) -> Progress:
    """None: silent; a Progress: itself; a callable: `Callback(x)` (fraction, message)."""
    if x is None:
        return Progress()
    if isinstance(x, Progress):
        return x
    if callable(x):
        return Callback(x)
    raise TypeError(f"progress must be a callable(fraction, message) or a qa.progress.Progress, not {type(x).__name__}")
