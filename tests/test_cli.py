"""The command line as other tools use it: real processes, JSON out, one-line errors."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import CARD_QUESTION, ROOT, SEEDS


def run(*args, stdin=None, env=None):
    return subprocess.run([sys.executable, "-m", "qa", *args], input=stdin, capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, **(env or {})}, timeout=300)


@pytest.fixture
def index_copy(tmp_path, seed_index_dir):
    d = tmp_path / "index"
    shutil.copytree(seed_index_dir, d)
    return d


def test_help_is_instant_and_lists_commands():
    r = run("--help")
    assert r.returncode == 0
    for cmd in ("build", "ask", "add", "remove", "list", "eval"):
        assert cmd in r.stdout


def test_ask_prints_quote_with_source(index_copy):
    r = run("ask", "--index", str(index_copy), CARD_QUESTION)
    assert r.returncode == 0, r.stderr
    assert "Russia is not a member of the U.S.-led anti-ISIS coalition" in r.stdout
    assert "Russian FM: We and the US Are Arming Opposing Sides in Syrian Conflict" in r.stdout
    assert "Patrick Goodenough" in r.stdout and "2014-10-22" in r.stdout


def test_batch_mode_and_add_list_remove(index_copy, tmp_path):
    lines = [{"question": CARD_QUESTION},
             {"question": "What did Samantha Power say about Assad?"},
             {"question": "And what did she say about ISIL?", "history": ["What did Samantha Power say about Assad?"]},
             {"question": "What is the capital of Australia?"}]
    stdin = "\n".join(json.dumps(x) for x in lines) + "\n"
    r = run("ask", "--index", str(index_copy), "--json", "-", stdin=stdin)
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert [o["question"] for o in out] == [x["question"] for x in lines]
    assert out[0]["quotes"][0]["text"].startswith("Russia is not a member")
    assert "ISIL" in out[2]["quotes"][0]["text"]
    assert out[3]["answered"] is False
    assert set(out[0]["quotes"][0]["article"]) >= {"id", "title", "byline", "date", "url"}

    art = tmp_path / "kiwi.md"
    art.write_text("# Kiwi Record\n\nGrowers picked 180 million trays of kiwifruit this season.\n", "utf-8")
    env = {"QA_INDEX": str(index_copy)}  # the env var stands in for --index
    r = run("add", str(art), env=env)
    assert r.returncode == 0 and "added kiwi" in r.stdout, r.stderr
    listed = json.loads(run("list", "--json", env=env).stdout)
    assert {a["id"] for a in listed} == {"000_54ba8922c5d040e6", "003_42d2fca0b8d62e31", "kiwi"}
    r = run("remove", "kiwi", env=env)
    assert r.returncode == 0 and "removed kiwi" in r.stdout
    r = run("remove", "kiwi", env=env)
    assert r.returncode == 1 and r.stderr.strip() == "qa: no article with id 'kiwi'"


def test_add_is_idempotent_and_fails_only_for_files_it_could_not_add(index_copy, tmp_path):
    story = tmp_path / "story.txt"
    story.write_text("Harbour Record\n\nThe harbour handled 12 million tonnes of cargo last year.\n", "utf-8")
    r = run("add", "--index", str(index_copy), "--quiet", str(story))
    assert r.returncode == 0 and r.stdout == "added story: Harbour Record\n", r.stderr
    # the same file again, and the same article under another name: in the index, so success
    shutil.copy(story, tmp_path / "story-copy.txt")
    r = run("add", "--index", str(index_copy), "--quiet", str(story), str(tmp_path / "story-copy.txt"))
    assert r.returncode == 0 and r.stdout == ""
    assert r.stderr.splitlines() == ["qa: already indexed: story.txt (as story)",
                                     "qa: already indexed: story-copy.txt (as story)"]
    # a good file beside a binary one: the good one goes in, the run fails naming the other
    ferry, pic = tmp_path / "ferry.md", tmp_path / "pic.txt"
    ferry.write_text("# Ferry Launched\n\nThe new ferry carries 300 cars across the strait.\n", "utf-8")
    pic.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    r = run("add", "--index", str(index_copy), "--quiet", str(ferry), str(pic), str(story))
    assert r.returncode == 1 and r.stdout == "added ferry: Ferry Launched\n"
    assert r.stderr.splitlines() == ["qa: already indexed: story.txt (as story)", "qa: skipped pic.txt: this is a "
                                     "binary file (image, PDF, archive…), not a text or HTML article"]
    assert {"story", "ferry"} <= {a["id"] for a in json.loads(run("list", "--index", str(index_copy), "--json").stdout)}
    r = run("add", "--index", str(index_copy), "--quiet", str(tmp_path / "missing.txt"))
    assert r.returncode == 1 and r.stderr.startswith("qa: skipped missing.txt: cannot read")


def test_add_a_zip_of_articles(index_copy, tmp_path):
    import zipfile
    bundle = tmp_path / "night.zip"
    with zipfile.ZipFile(bundle, "w") as z:
        z.writestr("in/tram.txt", "Tram Line Opens\n\nThe new tram line carries 9,000 riders a day.\n")
        z.writestr("in/logo.png", b"\x89PNG\r\n\x1a\n")
        z.writestr("../../evil.txt", "Names Only\n\nA zip entry's path is only a name here.\n")
    r = run("add", "--index", str(index_copy), "--quiet", str(bundle))
    assert r.returncode == 1  # one entry could not be added: said, the others went in
    assert sorted(r.stdout.splitlines()) == ["added evil: Names Only", "added tram: Tram Line Opens"]
    assert r.stderr.splitlines() == ["qa: skipped night.zip/in/logo.png: inside night.zip: not an article file (.png)"]
    assert not (tmp_path.parent / "evil.txt").exists() and not (ROOT.parent / "evil.txt").exists()
    r = run("add", "--index", str(index_copy), "--quiet", str(bundle))  # again: only the refusal fails it
    assert r.returncode == 1 and r.stdout == "" and "already indexed: tram.txt" in r.stderr


def test_errors_are_one_line_no_traceback(index_copy, tmp_path):
    for args in (("ask", "--index", str(index_copy), "   "),
                 ("add", "--index", str(index_copy), str(tmp_path / "missing.txt")),
                 ("build", "--index", str(index_copy), "--seeds", str(tmp_path / "nope"))):
        r = run(*args)
        assert r.returncode != 0
        assert "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("qa: ")


def test_batch_mode_reports_bad_lines_and_goes_on(index_copy):
    stdin = '{"question": ""}\nnot json\n{"question": "Why isn\'t Russia in the coalition?"}\n'
    r = run("ask", "--index", str(index_copy), "-", stdin=stdin)
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert "error" in out[0] and "error" in out[1]
    assert out[2]["quotes"][0]["text"].startswith("Russia is not a member")
    assert r.returncode == 1


def test_build_from_a_folder(tmp_path):
    r = run("build", "--seeds", str(SEEDS), "--index", str(tmp_path / "ix"))
    assert r.returncode == 0, r.stderr
    assert "2 articles" in r.stdout
    r = run("build", "--seeds", str(SEEDS), "--index", str(tmp_path / "ix"))
    assert "0 articles embedded" in r.stdout


def test_eval_calibrate_reports_the_threshold_it_would_pick(index_copy, tmp_path):
    qs = tmp_path / "q.jsonl"
    qs.write_text("\n".join(json.dumps(q) for q in [
        {"id": "a1", "question": CARD_QUESTION, "support": ["Russia is not a member"]},
        {"id": "a2", "question": "How many air strikes has the U.S. carried out in Iraq?", "support": ["90 air strikes"]},
        {"id": "u1", "question": "How do you make borscht?", "support": []}]) + "\n", "utf-8")
    r = run("eval", str(qs), "--index", str(index_copy), "--json", "--calibrate", "all")
    assert r.returncode == 0, r.stderr
    cal = json.loads(r.stdout)["calibration"]
    assert cal["on"] == "all" and cal["errors"] == 0 and cal["recall_unanswerable"] == 1.0
    assert cal["all"]["false_abstentions"] == 0 and cal["all"]["abstention_rate_unanswerable"] == 1.0
    odd = run("eval", str(qs), "--index", str(index_copy), "--calibrate", "odd")  # a1, u1: both kinds
    assert odd.returncode == 0 and "calibrated on odd questions: threshold" in odd.stdout
    even = run("eval", str(qs), "--index", str(index_copy), "--calibrate", "even")  # a2 alone
    assert even.returncode == 1 and even.stderr.startswith("qa: calibration needs both")
