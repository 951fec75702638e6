"""`build --ray`: Ray Data does the per-article work, the index is the one a single process writes.

A local Ray runtime (this machine's cores) builds the seeds and the BBC slice; each is
compared with the single-process build of the same articles: the same articles and
sentence rows in the same order, vectors within 1e-5, the same BM25 files and speakers,
the same answers. Another test kills a Ray build half-way: the previous index still loads.
Ray comes from requirements-ray.txt, which `make test` installs.
"""

import filecmp
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SEEDS

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def ray_engine(embedder):
    from qa.ray_build import RayEngine
    # one embedding actor on all of this machine's cores, as the single process embeds: a
    # build's bfloat16 vectors (qa.bf16_encoder) differ in their last bits between thread
    # counts (up to 5e-4), while they do not depend on how texts are batched
    before = os.environ.get("QA_RAY_ACTOR_CPUS")
    os.environ["QA_RAY_ACTOR_CPUS"] = "100000"
    engine = RayEngine(None, embedder)
    yield engine
    engine.close()
    if before is None:
        os.environ.pop("QA_RAY_ACTOR_CPUS", None)
    else:
        os.environ["QA_RAY_ACTOR_CPUS"] = before


def _generation(d: Path) -> tuple[Path, dict]:
    m = json.loads((d / "manifest.json").read_text("utf-8"))
    return d / m["data"], m


def assert_same_index(a: Path, b: Path) -> None:
    (ga, ma), (gb, mb) = _generation(a), _generation(b)
    assert [(x["id"], x["fingerprint"]) for x in ma["articles"]] == [(x["id"], x["fingerprint"]) for x in mb["articles"]]
    assert ma["counts"] == mb["counts"] and ma["model"] == mb["model"] and ma["dim"] == mb["dim"]
    for f in ("sentences.npy", "paragraphs.npy", "who.npy"):
        assert np.array_equal(np.load(ga / f), np.load(gb / f)), f
    for f in ("sentence_vectors.npy", "paragraph_vectors.npy", "sentence_hubness.npy"):
        x, y = np.load(ga / f), np.load(gb / f)
        assert x.shape == y.shape and float(np.abs(x - y).max(initial=0)) <= TOLERANCE, f
    for f in ("entries.jsonl", "who.json"):
        assert (ga / f).read_text("utf-8") == (gb / f).read_text("utf-8"), f
    for d in ("bm25_sentences", "bm25_paragraphs"):
        names = sorted(p.name for p in (ga / d).iterdir())
        assert names == sorted(p.name for p in (gb / d).iterdir())
        for n in names:
            assert filecmp.cmp(ga / d / n, gb / d / n, shallow=False), f"{d}/{n}"


def assert_same_answers(a, b, questions: list[str]) -> None:
    for q in questions:
        x, y = a.ask(q), b.ask(q)
        assert x.answered == y.answered, q
        assert [(t.article.id, t.text) for t in x.quotes] == [(t.article.id, t.text) for t in y.quotes], q
        assert np.allclose([t.score for t in x.quotes], [t.score for t in y.quotes], atol=1e-4), q


def _questions(path: Path, n: int) -> list[str]:
    rows = [json.loads(x) for x in path.read_text("utf-8").splitlines() if x.strip()]
    return [r["question"] for r in rows if not r.get("history")][:n]


def test_seeds_on_ray_match_one_process(tmp_path, ray_engine, seed_index_dir, seed_library, embedder):
    from qa import Library
    lib = Library(index_dir=tmp_path / "ray", seeds_dir=SEEDS, embedder=embedder, engine=ray_engine)
    lib.build()
    assert_same_index(seed_index_dir, tmp_path / "ray")
    assert_same_answers(seed_library, lib, _questions(ROOT / "tests" / "data" / "seed_questions.jsonl", 30))


def test_bbc_slice_on_ray_matches_one_process(tmp_path, ray_engine, bbc_slice_dir, bbc_slice_index_dir, embedder):
    from qa import Library
    ray_lib = Library(index_dir=tmp_path / "ray", seeds_dir=bbc_slice_dir, embedder=embedder, engine=ray_engine)
    ray_lib.build()
    assert len(ray_lib.index.entries) > 200
    assert_same_index(bbc_slice_index_dir, tmp_path / "ray")
    one = Library(index_dir=bbc_slice_index_dir, seeds_dir=bbc_slice_dir, embedder=embedder)
    assert_same_answers(one, ray_lib, _questions(ROOT / "tests" / "data" / "bbc_questions.jsonl", 30))
    # and adding through Ray: the texts are embedded there, the cache keeps them
    extra = sorted(p for p in (ROOT.parent / "shared" / "corpora" / "bbc-2005").glob("*.txt")
                   if not (bbc_slice_dir / p.name).exists())[:2]
    res = ray_lib.add(extra)
    assert len(res.added) == 2 and ray_lib.last_embedded == [a.id for a in res.added]


def test_a_killed_ray_build_leaves_the_previous_index(tmp_path, seed_index_dir, bbc_slice_dir):
    import shutil
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    before = _generation(d)[1]["data"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    p = subprocess.Popen([sys.executable, "-m", "qa", "build", "--ray", "--seeds", str(bbc_slice_dir),
                          "--index", str(d)], cwd=ROOT, env=env, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    seen = []
    try:
        deadline = time.monotonic() + 240
        for line in p.stderr:
            seen.append(line)
            if line.startswith("qa: embedding") or time.monotonic() > deadline:
                break
        assert any(x.startswith("qa: embedding") for x in seen), "".join(seen)[-2000:]
    finally:
        os.killpg(p.pid, signal.SIGKILL)  # the driver and the local Ray runtime it started
        p.wait(timeout=60)
    from qa import Library
    lib = Library(index_dir=d, seeds_dir=SEEDS)
    assert _generation(d)[1]["data"] == before
    assert len(lib.index.entries) == len(list(SEEDS.glob("*.txt")) + list(SEEDS.glob("*.md")) + list(SEEDS.glob("*.html")))
    assert lib.ask("Why isn't Russia in the coalition?").answered


def test_ray_is_not_imported_without_asking():
    code = ("import sys, qa, qa.cli, qa.library, qa.index, qa.pipeline; "
            "assert not [m for m in sys.modules if m == 'ray' or m.startswith('ray.')], 'ray imported'")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)


def test_a_ray_client_address_is_refused_with_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "qa", "build", "--ray", "ray://127.0.0.1:10001", "--seeds",
                        str(SEEDS), "--index", str(tmp_path / "index")], cwd=ROOT, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 1 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Ray Client" in r.stderr and "--ray auto" in r.stderr
    assert not (tmp_path / "index" / "manifest.json").exists()
