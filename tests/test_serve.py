"""A shard set on Ray Serve (`qa.serve`): answers equal the local index's; a shard replica killed
mid-load costs retries or a clear error, never a wrong answer.

A local Ray runtime (this machine's cores) serves a 2-shard index of the BBC slice plus the
seeds: one deployment a shard, the encoder, the ingress. Ray Serve comes from
requirements-ray.txt, which `make test` installs.
"""

import json
import shutil
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from conftest import BBC_QUESTIONS, ROOT, SEEDS, _free_port

ray = pytest.importorskip("ray")
serve = pytest.importorskip("ray.serve")


def _questions(path, n=None):
    qs = [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
    return qs[:n] if n else qs


def _same(x, y) -> bool:
    return json.dumps(x.to_dict(), sort_keys=True) == json.dumps(y.to_dict(), sort_keys=True)


@pytest.fixture(scope="module")
def served(tmp_path_factory, bbc_slice_dir, bbc_slice_index_dir, embedder):
    """(the served client, the same shard set opened locally, the HTTP url)."""
    from qa import Library
    from qa import serve as qs
    d = tmp_path_factory.mktemp("served") / "index"
    shutil.copytree(bbc_slice_index_dir, d)
    local = Library(index_dir=d, seeds_dir=bbc_slice_dir, embedder=embedder, shards=2)
    assert local.add(sorted(SEEDS.glob("*.txt"))).ok
    assert len(local.index.shards) == 2
    ray.init(num_cpus=2, include_dashboard=False, logging_level="ERROR", log_to_driver=False)
    port = _free_port()
    serve.start(http_options={"host": "127.0.0.1", "port": port})
    qs.run(d, route_prefix="/")
    try:
        yield qs.Served(), Library(index_dir=d, seeds_dir=bbc_slice_dir, embedder=embedder), \
            f"http://127.0.0.1:{port}/"
    finally:
        serve.shutdown()
        ray.shutdown()


def test_served_answers_equal_the_local_index(served):
    client, local, _ = served
    assert client.count() == (len(local.index.entries), len(local.index))
    questions = _questions(ROOT / "tests" / "data" / "seed_questions.jsonl") + _questions(BBC_QUESTIONS, 40)
    for q in questions:
        x = client.ask(q["question"], history=q.get("history"))
        y = local.ask(q["question"], history=q.get("history"))
        assert _same(x, y), q["id"]
    # filters travel; a bad question is refused as locally
    x = client.ask("What did Power say about Assad?", speaker="Power")
    assert _same(x, local.ask("What did Power say about Assad?", speaker="Power"))
    from qa.answer import QuestionError
    with pytest.raises(QuestionError):
        client.ask("   ")
    # the library view's listing and article view
    page = client.find("coalition", "match", 1, 5)
    assert page.rows and page.matches == __import__("qa.catalog").catalog.find(local.index, "coalition", "match").matches
    assert client.get(page.rows[0]["id"]).title == page.rows[0]["title"]


def test_served_over_http_and_the_cli(served):
    client, local, url = served
    body = json.dumps({"question": "Why isn't Russia in the coalition?", "k": 2}).encode()
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        got = json.loads(r.read())
    assert got == json.loads(json.dumps(local.ask("Why isn't Russia in the coalition?", k=2).to_dict()))
    bad = urllib.request.Request(url, data=b'{"q": 1}', headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=60)
    assert e.value.code == 400
    r = subprocess.run([sys.executable, "-m", "qa", "ask", "--serve", "auto", "--json",
                        "Why isn't Russia in the coalition?"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == json.loads(json.dumps(local.ask("Why isn't Russia in the coalition?").to_dict()))


def test_killed_shard_replica_retries_or_fails_clearly(served):
    from qa.serve import ShardUnavailable
    client, local, _ = served
    questions = [q["question"] for q in _questions(ROOT / "tests" / "data" / "seed_questions.jsonl")[:12]]
    expected = {q: local.ask(q).to_dict() for q in questions}
    assert client.ask(questions[0]).to_dict() == expected[questions[0]]  # warm
    outcomes, stop = [], threading.Event()

    def load():
        i = 0
        while not stop.is_set():
            q = questions[i % len(questions)]
            try:
                outcomes.append(("ok", client.ask(q).to_dict() == expected[q], time.time()))
            except ShardUnavailable as e:
                outcomes.append(("error", str(e), time.time()))
            i += 1

    worker = threading.Thread(target=load)
    worker.start()
    time.sleep(2)
    replicas = [a for a in ray.util.list_named_actors(all_namespaces=True) if "shard-01" in a["name"]]
    assert replicas, "no replica of shard-01 found"
    killed_at = time.time()
    ray.kill(ray.get_actor(replicas[0]["name"], namespace=replicas[0]["namespace"]), no_restart=True)
    time.sleep(8)
    stop.set()
    worker.join(timeout=120)
    print("outcomes:", [(k, v if k == "ok" else v[:90], round(t - killed_at, 1)) for k, v, t in outcomes])
    assert any(t > killed_at for *_, t in outcomes), "no question asked after the kill"
    assert all(ok for kind, ok, _ in outcomes if kind == "ok"), "a wrong answer under failure"
    assert all("did not answer" in msg or "failed" in msg for kind, msg, _ in outcomes if kind == "error")
    deadline = time.time() + 90  # the controller starts a new replica; answers come back, and right
    while True:
        try:
            assert client.ask(questions[0]).to_dict() == expected[questions[0]]
            break
        except ShardUnavailable:
            if time.time() > deadline:
                raise
            time.sleep(2)


def test_web_chat_over_the_served_archive(served, monkeypatch):
    """QA_SERVE: the chat asks the served archive; the Library tab lists and opens its articles,
    read-only (a served archive changes by a new build and deployment)."""
    client, local, _ = served
    sys.path.insert(0, str(ROOT))
    import app
    from web import library_view
    monkeypatch.setenv("QA_SERVE", "local")
    lib = app.open_library()
    assert not isinstance(lib, __import__("qa").Library) and lib.count() == client.count()
    examples, label = app.examples_for(lib)
    assert len(examples) == 3 and label  # titles from across the archive (BBC articles are undated)
    assert library_view.find(lib, "", "title", 1, 5).rows == \
        __import__("qa.catalog").catalog.find(local.index, "", "title", 1, 5).rows
    demo = app.build_app(lib, writable=False)
    assert demo is not None
