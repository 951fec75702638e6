"""Progress of builds and adds: phases with counts, bars on a terminal, plain lines in logs,
nothing with --quiet, and the old callable(fraction, message) still served."""

import io
import os
import shutil
import subprocess
import sys

from conftest import ROOT, SEEDS
from qa.progress import Callback, Progress, Terminal, as_progress


class Recorder(Progress):
    def __init__(self):
        self.events = []

    def phase(self, name, total, unit="items"):
        self.events.append(["phase", name, total, 0])

    def advance(self, n=1):
        self.events[-1][3] += n

    def close(self):
        self.events.append(["close"])


def test_plain_lines_when_not_a_terminal():
    out = io.StringIO()
    t = Terminal(out, every=0.0, tty=False)
    t.phase("embedding", 100, "sentences")
    for _ in range(4):
        t.advance(25)
    t.phase("few", 3, "things")  # below `least` and quick: not shown
    t.advance(3)
    t.close()
    slow = Terminal(out, tty=False, slow=0.0)
    slow.phase("indexing", 3, "steps")  # below `least` but slow: one line at its end
    slow.advance(3)
    slow.close()
    lines = out.getvalue().splitlines()
    assert lines.pop().startswith("qa: indexing: 3 steps in ")
    assert lines[0] == "qa: embedding: 100 sentences"
    assert any("/100 sentences (" in x and "/s, ETA" in x for x in lines[1:-1])
    assert lines[-1].startswith("qa: embedding: 100 sentences in ")
    assert not any("few" in x for x in lines)


def test_a_bar_on_a_terminal():
    out = io.StringIO()
    t = Terminal(out, tty=True)
    t.phase("embedding", 50, "sentences")
    t.advance(50)
    t.close()
    text = out.getvalue()
    assert "embedding" in text and "50/50" in text and "sentences/s" in text


def test_callback_fractions_rise_to_one():
    seen = []
    p = Callback(lambda f, m: seen.append((f, m)), interval=0.0)
    for name, total in (("reading", 10), ("splitting", 10), ("embedding", 100), ("indexing", 3), ("writing", 1)):
        p.phase(name, total)
        for _ in range(total):
            p.advance(1)
    p.close()
    fractions = [f for f, _ in seen]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and seen[-1][1] == "done"
    assert any(m.startswith("embedding 50 of 100") for _, m in seen)


def test_as_progress():
    assert type(as_progress(None)) is Progress
    r = Recorder()
    assert as_progress(r) is r
    assert isinstance(as_progress(lambda f, m: None), Callback)


def test_library_build_reports_every_phase_with_counts(tmp_path, embedder):
    from qa import Library
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    r = Recorder()
    lib = Library(index_dir=tmp_path / "index", seeds_dir=src, embedder=embedder)
    index = lib.build(progress=r)
    phases = [e for e in r.events if e[0] == "phase"]
    assert [e[1] for e in phases] == ["reading", "splitting", "embedding", "indexing", "writing"]
    n_files = len([p for p in src.iterdir() if p.suffix in (".txt", ".md", ".html")])
    assert phases[0][2:] == [n_files, n_files]
    assert phases[1][2:] == [len(index.entries)] * 2
    assert phases[2][2:] == [len(index.sent) + len(index.para)] * 2  # sentences and titled paragraphs
    assert phases[3][2:] == [3, 3] and phases[4][2:] == [1, 1]
    assert r.events[-1] == ["close"]


def test_add_with_the_old_callable(fresh_library, tmp_path):
    seen = []
    f = tmp_path / "kiwi.txt"
    f.write_text("Kiwi growers expand\n\nGrowers in the Bay of Plenty planted more kiwifruit this year.", "utf-8")
    res = fresh_library.add([f], progress=lambda frac, msg: seen.append((frac, msg)))
    assert len(res.added) == 1
    assert seen[-1] == (1.0, "done") and all(0.0 <= x <= 1.0 for x, _ in seen)


def _cli(*args, index, seeds=SEEDS):
    env = {**os.environ, "QA_INDEX": str(index), "QA_SEEDS": str(seeds)}
    return subprocess.run([sys.executable, "-m", "qa", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)


def test_cli_build_shows_progress_in_logs_and_quiet_shows_none(tmp_path, seed_index_dir):
    src = tmp_path / "src"
    shutil.copytree(SEEDS, src)
    for i in range(25):  # enough articles for the phases to be shown
        (src / f"note-{i:02d}.txt").write_text(
            f"Harbour note {i}\n\nThe harbour board met for the {i}th time and approved {i + 3} new berths.",
            "utf-8")
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    r = _cli("build", "--seeds", str(src), index=d, seeds=src)
    assert r.returncode == 0, r.stderr
    assert "qa: reading: 27 articles" in r.stderr and "qa: embedding:" in r.stderr
    assert r.stdout.startswith(f"index {d}: 27 articles")
    (src / "note-99.txt").write_text("Late note\n\nThe board also named a new harbour master.", "utf-8")
    q = _cli("build", "--quiet", "--seeds", str(src), index=d, seeds=src)
    assert q.returncode == 0 and q.stderr == "" and "(1 article embedded)" in q.stdout
