"""Shared fixtures: one embedding model per test session, temporary index folders."""

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
CARD_QUESTION = "Why isn't Russia in the coalition?"


def pytest_sessionfinish(session, exitstatus):
    session.config._qa_exitstatus = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """Once the session is over and reported: where this process ran a Ray driver
    (tests/test_ray_build.py), end it without the interpreter's teardown, with pytest's exit
    status. After ray.shutdown() a thread of Ray's GCS client can still run while the
    interpreter tears down and crash it (seen once here: a segfault in
    NodeInfoGcsService/GetClusterId after every test had passed; ray-project/ray#6025 and
    #36885 are the same kind), which would turn a green run red."""
    import sys
    if "ray" in sys.modules and hasattr(config, "_qa_exitstatus"):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config._qa_exitstatus)


@pytest.fixture(scope="session")
def embedder():
    """The real bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    from qa.embed import Embedder
    e = Embedder()
    e.encode(["warm up"])
    return e


@pytest.fixture(scope="session")
def seed_index_dir(tmp_path_factory, embedder):
    """An index built once from seeds/; tests that change an index copy it first."""
    from qa import Library
    d = tmp_path_factory.mktemp("seed-index")
    Library(index_dir=d, seeds_dir=SEEDS, embedder=embedder).build()
    return d


BBC = ROOT.parent / "shared" / "corpora" / "bbc-2005"
BBC_QUESTIONS = ROOT / "tests" / "data" / "bbc_questions.jsonl"
BBC_CHECK_QUESTIONS = ROOT / "tests" / "data" / "bbc_check_questions.jsonl"


@pytest.fixture(scope="session")
def bbc_slice_dir(tmp_path_factory):
    """A slice of the real BBC archive (../shared/corpora/bbc-2005): every article a question of
    tests/data/bbc_questions.jsonl or bbc_check_questions.jsonl names, plus every 20th other one
    as distractors (~280)."""
    import json
    if not BBC.is_dir():
        pytest.skip("the BBC archive is not beside the repo")
    named = {f for path in (BBC_QUESTIONS, BBC_CHECK_QUESTIONS) for line in path.read_text("utf-8").splitlines()
             if line.strip() for f in json.loads(line).get("articles", [])}
    src = tmp_path_factory.mktemp("bbc-slice")
    for i, f in enumerate(sorted(BBC.glob("*.txt"))):
        if f.name in named or i % 20 == 0:
            shutil.copy(f, src / f.name)
    return src


@pytest.fixture(scope="session")
def bbc_slice_index_dir(tmp_path_factory, bbc_slice_dir, embedder):
    """The BBC slice indexed once by a single process (read only)."""
    from qa import Library
    d = tmp_path_factory.mktemp("bbc-index")
    Library(index_dir=d, seeds_dir=bbc_slice_dir, embedder=embedder).build()
    return d


@pytest.fixture(scope="session")
def seed_library(seed_index_dir, embedder):
    """A read-only library over the seeds (do not add or remove through it)."""
    from qa import Library
    return Library(index_dir=seed_index_dir, seeds_dir=SEEDS, embedder=embedder)


@pytest.fixture
def fresh_library(tmp_path, seed_index_dir, embedder):
    """A library of its own over a copy of the seed index, free to change."""
    from qa import Library
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    return Library(index_dir=d, seeds_dir=SEEDS, embedder=embedder)


# ------------------------------------------------------------------ the web chat (app.py)

def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def web_app(tmp_path_factory, seed_index_dir, embedder):
    """app.py served in-process on a free port, once a session, over its own copy of the seed index
    (QA_INDEX points to it while the session runs). Yields an object with `url` and `library`."""
    import sys
    from types import SimpleNamespace
    sys.path.insert(0, str(ROOT))
    import app
    d = tmp_path_factory.mktemp("web") / "index"
    shutil.copytree(seed_index_dir, d)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("QA_INDEX", str(d))
        mp.setenv("QA_SEEDS", str(SEEDS))
        library = app.open_library(embedder=embedder)
        demo = app.build_app(library)
        url = app.serve(demo, "127.0.0.1", _free_port(), block=False)
        try:
            yield SimpleNamespace(url=url, library=library, index_dir=d)
        finally:
            demo.close()
