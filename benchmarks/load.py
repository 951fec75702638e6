"""Load: many gradio_client users ask app.py at once while another client uploads articles.

    nice python benchmarks/load.py [--seconds 60] [--users 32] [--upload-every 5] [--json]
    nice python benchmarks/load.py --sweep default,2,4,none,2/16   # one fresh app per queue setting
    # an archive: an index built already, its source articles, its questions
    nice python benchmarks/load.py --index /tmp/bbc-one --seeds /work/shared/corpora/bbc-2005 \
        --questions tests/data/bbc_questions.jsonl --warm

Copies app.py, qa/, web/, seeds/ and the questions aside first (so every setting
of a sweep runs the same code while others edit the tree), starts that `app.py`
in a subprocess on a free 127.0.0.1 port over a temporary copy of an index
(built from the seeds, or `--index DIR` copied aside; DIR itself is never
written), then for `--seconds` runs `--users` closed-loop
users (no think time: each sends its next request when the last one answers),
each with its own `gradio_client.Client` and so its own session. They mix
answerable, unanswerable and follow-up questions (`--questions`, by default
tests/data/seed_questions.jsonl: one JSON object a line with `question`,
`support` (empty: unanswerable) and optionally `history`)
over `/ask` (with and without `history`) and `/chat` (a follow-up is the next
message in the same chat session), plus questions about the articles uploaded
so far. Meanwhile one more client uploads a small generated article every
`--upload-every` seconds. Each generated article pairs a town with an event and
a visitor figure of its own, and says that figure in one sentence only (a second
sentence naming the town and event outranked it), so its question is answered
from it, with that figure, among the seeds and among the 2,225 BBC articles.

Uploads go through the Library tab's own upload event, the one the browser's
file box fires (`add` in web/library_view.py, `api_visibility="private"`):
gradio_client refuses private events, so the uploader marks that endpoint
(and the list's `refresh` and `search_list`) valid and calls it by fn_index.
That is the path a colleague's upload takes, in the same process,
queue and library lock as the questions. `--uploader cli` runs
`python -m qa add FILE --index DIR` in another process instead (the app
reloads on the manifest change); each such process loads the model first.
The first add in an app loads the indexing model (torch) while holding the
library lock, so every question waits for it; `--warm` does one upload before
the clock to measure the steady state without that stall.

Checks (any failure is an error): no request raises or times out; every `/ask`
answer has the `Answer.to_dict()` keys, echoes its own question (no crossed
sessions) and every quote is a verbatim substring of its context at its
offsets; every `/chat` answer is non-empty markdown; every upload reports
"✓ Added"; after the run the Library's count has grown by the uploads, every
uploaded article is found by the Library's search for its title, and its
question is answered with a quote from it that holds its figure.

Reports p50/p95/p99/max latency per kind and overall, throughput, errors,
upload latency and the app's CPU seconds per request (steadier than wall time
on a shared machine), as a markdown table and with --json as JSON; writes
benchmarks/out/load.json. Queue settings are applied without editing app.py:
the app runs under a small bootstrap that calls
`demo.queue(default_concurrency_limit=C, max_size=M)` just before launch.

Bounded: `--seconds` of asking, at most `--max-requests` requests, each waited
for at most `--timeout` seconds; loopback only. Left out: think time, browsers
(the Svelte front end), removals, and a machine of its own (the load generator
shares the cores with the app, so compare settings within one sweep).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = HERE / "out" / "load.json"
QUESTIONS = "questions.jsonl"  # the --questions file, in the snapshot
HOST = "127.0.0.1"  # never anything else
QUOTE_KEYS = {"text", "score", "context", "article"}
ARTICLE_KEYS = {"id", "title", "byline", "date", "url"}
QUIET_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}

# Runs app.py as `python app.py` would, with the queue settings in LOAD_QUEUE applied just before launch.
BOOTSTRAP = """
import json, os, runpy, sys
import gradio as gr
settings = json.loads(os.environ["LOAD_QUEUE"])
_launch = gr.Blocks.launch
def launch(self, *a, **k):
    if settings:
        self.queue(**settings)
    out = _launch(self, *a, **k)
    q = self._queue
    limits = {f.api_name: q.default_concurrency_limit if f.concurrency_limit == "default" else f.concurrency_limit
              for f in self.fns.values() if f.api_name in ("chat", "ask", "add")}
    print("queue:", json.dumps({"max_size": q.max_size, "limits": limits}), flush=True)
    return out
gr.Blocks.launch = launch
sys.argv = ["app.py"]
sys.path.insert(0, os.getcwd())
runpy.run_path("app.py", run_name="__main__")
"""

PLACES = ["Tromso", "Valparaiso", "Kumasi", "Hobart", "Tartu", "Oaxaca", "Luang Prabang", "Galway", "Matera",
          "Cuenca", "Nakuru", "Bergamo", "Daugavpils", "Arequipa", "Kandy", "Salvador", "Gyor", "Ushuaia",
          "Pokhara", "Zadar", "Esbjerg", "Ouarzazate", "Kochi", "Timaru"]
EVENTS = ["kite festival", "oyster fair", "chess open", "lantern parade", "jazz weekend", "rowing regatta",
          "cheese market", "puppet festival"]
NAMES = ["Amina Juma", "Tomas Berg", "Lucia Ferraro", "Kwame Mensah", "Ingrid Solberg", "Rafael Ortiz"]


def article(i: int) -> tuple[str, str, str, str]:
    """The i-th generated article: (file name, text, question, the figure its answer must quote)."""
    place, event = PLACES[i % len(PLACES)], EVENTS[(i // len(PLACES)) % len(EVENTS)]
    name, n = NAMES[i % len(NAMES)], 4000 + 137 * i
    title = f"{place} {event} draws {n:,} visitors"
    text = (f"{title.capitalize()}\n\nBy {name} | June {1 + i % 28}, 2015\n\n"
            f"The {place} {event} drew {n:,} visitors over the weekend, its organiser {name} said on Monday.\n\n"
            f"\"We had {n:,} people through the gates, more than ever before,\" {name} said.\n\n"
            f"Local hotels reported full bookings, and the town council said it would extend the {event} "
            f"by a day next year.\n")
    return f"load-{i:03d}.txt", text, f"How many visitors did the {place} {event} draw?", f"{n:,}"


def snapshot(dest: Path, questions_file: Path) -> Path:
    """The app (app.py and its web/ package), the library, the seeds and the questions as they are now:
    other people may be editing the working tree, and every setting of a sweep must run the same code."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for rel in ("app.py", "qa", "web", "seeds"):
        src, dst = ROOT / rel, dest / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(src, dst, ignore=ignore) if src.is_dir() else shutil.copy2(src, dst)
    shutil.copy2(questions_file, dest / QUESTIONS)
    return dest


def questions(src: Path) -> dict[str, list]:
    rows = [json.loads(line) for line in (src / QUESTIONS).read_text().splitlines() if line.strip()]
    qs = {"answerable": [r["question"] for r in rows if r["support"] and not r.get("history")],
          "unanswerable": [r["question"] for r in rows if not r["support"]],
          "followup": [(r["history"], r["question"]) for r in rows if r.get("history")]}
    if not all(qs.values()):
        raise ValueError("the questions need answerable, unanswerable and follow-up ones; got "
                         + ", ".join(f"{len(v)} {k}" for k, v in qs.items()))
    return qs


# ------------------------------------------------------------------ checks

def check_answer(d, question: str) -> str | None:
    """Why `d` is not a well-formed Answer.to_dict() for `question`, or None."""
    if not isinstance(d, dict) or not {"question", "answered", "quotes", "query"} <= d.keys():
        return f"not an answer: {str(d)[:120]}"
    if " ".join(str(d["question"]).split()) != " ".join(question.split()):
        return f"answer to another question: {d['question'][:80]!r}"
    if not isinstance(d["answered"], bool) or not isinstance(d["quotes"], list):
        return "answered/quotes of the wrong type"
    for q in d["quotes"]:
        if not isinstance(q, dict) or not QUOTE_KEYS <= q.keys() or not ARTICLE_KEYS <= q["article"].keys():
            return f"malformed quote: {str(q)[:120]}"
        if not q["text"] or q["text"] not in q["context"]:
            return f"quote not in its context: {q['text'][:80]!r}"
        if "start" in q and "context_start" in q:
            a = q["start"] - q["context_start"]
            if q["context"][a:a + len(q["text"])] != q["text"]:
                return f"quote not at its offsets: {q['text'][:80]!r}"
    return None


# ------------------------------------------------------------------ the app

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def build_seed_index(tmp: Path, src: Path, seeds: Path) -> Path:
    d = tmp / "seed-index"
    subprocess.run([sys.executable, "-m", "qa", "build", "--index", str(d), "--seeds", str(seeds)],
                   cwd=src, env={**os.environ, **QUIET_ENV}, check=True, stdout=subprocess.DEVNULL)
    return d


def copy_index(tmp: Path, index: Path) -> Path:
    """`index` copied aside once (read, never written: the app and its uploads change only copies)."""
    if not (index / "manifest.json").is_file():
        raise ValueError(f"{index}: not a built index (no manifest.json)")
    return Path(shutil.copytree(index, tmp / "base-index", ignore=shutil.ignore_patterns("*.lock")))


class App:
    """app.py in a subprocess over its own copy of the index; `url` once it serves."""

    def __init__(self, src: Path, index_dir: Path, seeds: Path, queue: dict, startup_timeout: float = 300):
        self.src, self.index_dir, self.seeds, self.log, self.queue_info = src, index_dir, seeds, [], None
        env = {**os.environ, **QUIET_ENV, "QA_INDEX": str(index_dir), "QA_SEEDS": str(seeds),
               "GRADIO_SERVER_NAME": HOST, "GRADIO_SERVER_PORT": str(free_port()), "LOAD_QUEUE": json.dumps(queue)}
        env.pop("QA_AUTH", None)
        self.proc = subprocess.Popen([sys.executable, "-c", BOOTSTRAP], cwd=src, env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        ready = threading.Event()
        self.url = None

        def read():
            for line in self.proc.stdout:
                self.log.append(line.rstrip())
                if line.startswith("queue:"):
                    self.queue_info = json.loads(line.split(":", 1)[1])
                if line.startswith("Web chat ready:"):
                    self.url = line.split(":", 1)[1].strip()
                    ready.set()
            ready.set()
        threading.Thread(target=read, daemon=True).start()
        if not ready.wait(startup_timeout) or not self.url:
            self.close()
            raise RuntimeError("app.py did not start:\n" + "\n".join(self.log[-20:]))
        if not self.url.startswith(f"http://{HOST}:"):
            self.close()
            raise RuntimeError(f"app.py is not on loopback: {self.url}")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def client(url: str, private: tuple[str, ...] = ()):
    """A gradio_client session; `private` names UI events (api_visibility="private") it may call."""
    from gradio_client import Client
    c = Client(url, verbose=False)
    ids = {d.get("api_name"): d["id"] for d in c.config["dependencies"]}
    for name in private:  # the client refuses private events; the server serves them to the browser
        c.endpoints[ids[name]].is_valid = True
    c.fn = ids
    # /chat's other inputs (the filter boxes, if the app has them) left empty: no filter.
    params = c.view_api(print_info=False, return_format="dict")["named_endpoints"]["/chat"]["parameters"]
    c.chat_extra = ["" for _ in params[1:]]
    return c


# ------------------------------------------------------------------ the run

class Run:
    def __init__(self, app: App, args):
        self.app, self.args, self.qs = app, args, questions(app.src)
        self.lock = threading.Lock()
        self.samples: list[tuple[str, float]] = []  # (kind, seconds)
        self.errors: list[str] = []
        self.uploads: list[dict] = []  # {file, question, figure, title, seconds, status}
        self.answered: dict[str, list[int]] = {}  # kind -> [answered, asked]
        self.requests = 0
        self.stop = threading.Event()

    def budget(self) -> bool:
        with self.lock:
            self.requests += 1
            return self.requests <= self.args.max_requests

    def call(self, c, kind: str, *payload, api_name=None, fn_index=None):
        t = time.perf_counter()
        try:
            out = c.submit(*payload, api_name=api_name, fn_index=fn_index).result(timeout=self.args.timeout)
        except Exception as e:  # noqa: BLE001 - every failure is counted, none stops the run
            with self.lock:
                self.errors.append(f"{kind}: {e.__class__.__name__}: {str(e)[:160]}")
            return None
        with self.lock:
            self.samples.append((kind, time.perf_counter() - t))
        return out

    def ask(self, c, kind: str, question: str, history=None):
        d = self.call(c, kind, question, history, api_name="/ask")
        if d is None:
            return None
        why = check_answer(d, question)
        with self.lock:
            if why:
                self.errors.append(f"{kind}: {why}")
            else:
                n = self.answered.setdefault(kind, [0, 0])
                n[0], n[1] = n[0] + d["answered"], n[1] + 1
        return d

    def chat(self, c, kind: str, message: str):
        md = self.call(c, kind, message, *c.chat_extra, api_name="/chat")
        if md is not None and (not isinstance(md, str) or not md.strip() or md.startswith("⚠")):
            with self.lock:
                self.errors.append(f"{kind}: bad chat answer {str(md)[:120]!r}")

    def user(self, c, rng: random.Random, go: threading.Barrier):
        go.wait()
        qs = self.qs
        while not self.stop.is_set() and self.budget():
            r = rng.random()
            with self.lock:
                done = [u for u in self.uploads if u["status"] == "added"]
            if r < 0.35:
                self.ask(c, "ask", rng.choice(qs["answerable"]))
            elif r < 0.50:
                self.ask(c, "ask-unanswerable", rng.choice(qs["unanswerable"]))
            elif r < 0.65:
                history, q = rng.choice(qs["followup"])
                self.ask(c, "ask-followup", q, history)
            elif r < 0.80:
                self.chat(c, "chat", rng.choice(qs["answerable"] + qs["unanswerable"]))
            elif r < 0.90:
                history, q = rng.choice(qs["followup"])
                self.chat(c, "chat", history[-1])
                if not self.stop.is_set() and self.budget():
                    self.chat(c, "chat-followup", q)
            elif done:
                self.ask(c, "ask-uploaded", rng.choice(done)["question"])
            else:
                self.ask(c, "ask", rng.choice(qs["answerable"]))

    def upload(self, c, i: int, tmp: Path) -> None:
        name, text, question, figure = article(i)
        path = tmp / name
        path.write_text(text, encoding="utf-8")
        rec = {"file": name, "question": question, "figure": figure, "title": text.split("\n", 1)[0],
               "status": "failed"}
        t = time.perf_counter()
        if self.args.uploader == "cli":
            p = subprocess.run([sys.executable, "-m", "qa", "add", str(path), "--index", str(self.app.index_dir)],
                               cwd=self.app.src, env={**os.environ, **QUIET_ENV, "QA_SEEDS": str(self.app.seeds)},
                               capture_output=True, text=True,
                               timeout=self.args.timeout * 5)
            ok, msg = p.returncode == 0 and "added" in p.stdout, (p.stdout + p.stderr)[-200:]
        else:
            # add(files, search_query, sort_key) -> (status, uploads, count, listing, page, page_no, prev, next)
            out = self.call(c, "upload", [handle_file(path)], "", "newest", fn_index=c.fn["add"])
            ok, msg = out is not None and "✓ Added" in str(out[0]), str(out and out[0])[:200]
        rec["seconds"] = time.perf_counter() - t
        with self.lock:
            if ok:
                rec["status"] = "added"
            else:
                self.errors.append(f"upload {name}: {msg}")
            self.uploads.append(rec)

    def uploader(self, c, go: threading.Barrier, tmp: Path):
        go.wait()
        i, next_at = len(self.uploads), time.monotonic()
        while not self.stop.wait(max(0.0, next_at - time.monotonic())):
            next_at = time.monotonic() + self.args.upload_every
            self.upload(c, i, tmp)
            i += 1

    def go(self, tmp: Path) -> dict:
        a = self.args
        users = [None] * a.users
        threads = [threading.Thread(target=lambda k: users.__setitem__(k, client(self.app.url)), args=(k,))
                   for k in range(a.users)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        up = client(self.app.url, private=("add", "refresh", "search_list"))
        self.articles_before = self.article_count(up)
        quiet = []  # one user alone, before the load: the floor the loaded latencies compare to
        for q in self.qs["answerable"][:10]:
            t = time.perf_counter()
            self.ask(up, "quiet", q)
            quiet.append(time.perf_counter() - t)
        if a.warm:  # the first add loads the indexing model (torch): measure without that stall
            self.upload(up, 0, tmp)
            self.warm_upload_s = round(self.uploads[0]["seconds"], 2)
        self.samples = [s for s in self.samples if s[0] not in ("quiet", "upload")]
        go = threading.Barrier(a.users + 2)
        workers = [threading.Thread(target=self.user, args=(c, random.Random(k), go)) for k, c in enumerate(users)]
        workers.append(threading.Thread(target=self.uploader, args=(up, go, tmp)))
        [w.start() for w in workers]
        cpu0 = self.app.cpu_seconds()
        go.wait()
        t0 = time.perf_counter()
        self.stop.wait(a.seconds)
        self.stop.set()
        for w in workers:
            w.join(a.timeout * 6)
        elapsed = time.perf_counter() - t0
        if self.app.proc.poll() is not None:  # a dead app is the worst error: say how it died
            self.errors.insert(0, f"app exited with code {self.app.proc.returncode}: "
                                  + " | ".join(self.app.log[-8:])[-1500:])
            return self.report(elapsed, 0.0, quiet)
        cpu = self.app.cpu_seconds() - cpu0
        self.after(up)
        return self.report(elapsed, cpu, quiet)

    def article_count(self, c) -> int | None:
        """The Library's count line ("**2,225 articles**, …"), as the page load shows it."""
        # refresh() -> (count, listing, page, page_no, prev, next)
        out = self.call(c, "list", fn_index=c.fn["refresh"])
        m = out and re.search(r"([\d,]+) articles?\b", str(out[0]))
        if not m:
            self.errors.append(f"list: no article count in {str(out and out[0])[:120]!r}")
            return None
        return int(m.group(1).replace(",", ""))

    def after(self, c) -> None:
        """The count grown by the uploads; every uploaded article found by the Library's search for its
        title (the list shows one page, so a search, not the first page) and answered with a quote from it."""
        added = [u for u in self.uploads if u["status"] == "added"]
        now = self.article_count(c)
        if None not in (now, self.articles_before) and now != self.articles_before + len(added):
            self.errors.append(f"after: {now} articles, expected {self.articles_before} + {len(added)} uploaded")
        for u in added:
            # search_list(query, sort_key) -> (count, listing_html, page, page_no, prev, next)
            out = self.call(c, "list", u["title"], "newest", fn_index=c.fn["search_list"])
            if out is None or u["title"] not in html.unescape(str(out[1])):  # titles are escaped there
                self.errors.append(f"after: {u['file']} not found by a search for its title: {str(out)[:160]}")
            d = self.ask(c, "after", u["question"])
            top = d["quotes"][0] if d and d["quotes"] else None
            if not (d and d["answered"] and top and top["article"]["title"] == u["title"] and u["figure"] in top["text"]):
                self.errors.append(f"after: {u['file']} not answered from its article: {str(top)[:160]}")

    def report(self, elapsed: float, cpu: float, quiet: list[float]) -> dict:
        load = [(k, s) for k, s in self.samples if k not in ("upload", "list", "after")]
        kinds = sorted({k for k, _ in load})
        rows = {"all": stats([s for _, s in load])} | {k: stats([s for kk, s in load if kk == k]) for k in kinds}
        return {
            "seconds": round(elapsed, 1), "users": self.args.users, "uploader": self.args.uploader,
            "requests": len(load), "throughput_rps": round(len(load) / elapsed, 2),
            "errors": len(self.errors), "error_samples": self.errors[:10],
            "rejected_queue_full": sum("Queue is full" in e for e in self.errors),
            "warm_upload_s": getattr(self, "warm_upload_s", None),
            "latency_s": rows, "quiet_s": stats(quiet),
            "app_cpu_s_per_request": round(cpu / max(1, len(load) + len(self.uploads)), 4),
            "answered": {k: f"{a}/{n}" for k, (a, n) in sorted(self.answered.items())},
            "uploads": {"added": sum(u["status"] == "added" for u in self.uploads), "tried": len(self.uploads),
                        "latency_s": stats([u["seconds"] for u in self.uploads[1 if self.args.warm else 0:]])},
        }


def handle_file(path):
    from gradio_client import handle_file as hf
    return hf(str(path))


def stats(xs: list[float]) -> dict:
    if not xs:
        return {"n": 0}
    xs = sorted(xs)

    def pct(p):
        return round(xs[min(len(xs) - 1, int(p / 100 * len(xs)))], 3)
    return {"n": len(xs), "p50": pct(50), "p95": pct(95), "p99": pct(99), "max": round(xs[-1], 3),
            "mean": round(statistics.fmean(xs), 3)}


def parse_setting(s: str) -> tuple[str, dict]:
    """'default' (Gradio's own), 'C' or 'C/M': default_concurrency_limit C (a number or 'none'), max_size M."""
    if s == "default":
        return s, {}
    c, _, m = s.partition("/")
    q = {"default_concurrency_limit": None if c == "none" else int(c)}
    if m:
        q["max_size"] = int(m)
    return s, q


def table(results: dict) -> str:
    lines = ["| queue | req | req/s | p50 s | p95 s | p99 s | max s | errors | uploads | upload p50 s | "
             "app CPU ms/req | quiet p50 s |", "|" + "---|" * 12]
    for name, r in results.items():
        if "failed" in r:
            lines.append(f"| {name} | failed: {r['failed'][:80]} |" + " |" * 10)
            continue
        a, u = r["latency_s"]["all"], r["uploads"]
        lines.append(f"| {name} | {r['requests']} | {r['throughput_rps']} | {a.get('p50')} | {a.get('p95')} | "
                     f"{a.get('p99')} | {a.get('max')} | {r['errors']} | {u['added']}/{u['tried']} | "
                     f"{u['latency_s'].get('p50')} | {1000 * r['app_cpu_s_per_request']:.0f} | "
                     f"{r['quiet_s'].get('p50')} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--users", type=int, default=32)
    p.add_argument("--upload-every", type=float, default=5, help="seconds between upload starts")
    p.add_argument("--uploader", choices=["ui", "cli"], default="ui",
                   help="ui: the chat's upload event in the app; cli: python -m qa add in another process")
    p.add_argument("--concurrency", default=None, help="default_concurrency_limit: a number or 'none'")
    p.add_argument("--max-size", type=int, default=None, help="queue max_size")
    p.add_argument("--sweep", default=None, help="comma-separated settings: default, C or C/M (C may be 'none')")
    p.add_argument("--max-requests", type=int, default=50_000, help="stop asking after this many requests")
    p.add_argument("--timeout", type=float, default=60, help="seconds to wait for one answer")
    p.add_argument("--index", type=Path, default=None,
                   help="serve a copy of this built index (never written) instead of one built from the seeds")
    p.add_argument("--seeds", type=Path, default=None,
                   help="the index's source articles, QA_SEEDS for the app (default: the project's seeds/)")
    p.add_argument("--questions", type=Path, default=ROOT / "tests/data/seed_questions.jsonl",
                   help="JSONL of question, support (empty: unanswerable), optional history")
    p.add_argument("--warm", action="store_true",
                   help="upload one article before the clock starts (the first add loads the indexing model)")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    a = p.parse_args(argv)
    if a.sweep:
        settings = [parse_setting(s.strip()) for s in a.sweep.split(",")]
    elif a.concurrency is None and a.max_size is None:
        settings = [parse_setting("default")]
    else:
        settings = [parse_setting((a.concurrency or "1") + (f"/{a.max_size}" if a.max_size else ""))]

    results = {}
    with tempfile.TemporaryDirectory(prefix="qa-load-") as tmp:
        tmp = Path(tmp)
        try:  # a wrong --questions or --index: one line, before starting anything
            src = snapshot(tmp / "src", a.questions)
            questions(src)
            if a.index:
                print(f"copying {a.index} aside…", file=sys.stderr, flush=True)
                seed = copy_index(tmp, a.index)
        except (OSError, ValueError, KeyError) as e:
            p.error(f"{e.__class__.__name__}: {e}")
        seeds = a.seeds.resolve() if a.seeds else src / "seeds"
        if not a.index:
            print(f"building the index of {seeds}…", file=sys.stderr, flush=True)
            seed = build_seed_index(tmp, src, seeds)
        for name, queue in settings:
            print(f"queue {name}: starting the app…", file=sys.stderr, flush=True)
            work = tmp / name.replace("/", "-")
            shutil.copytree(seed, work / "index")
            app = None
            try:
                app = App(src, work / "index", seeds, queue)
                r = Run(app, a).go(work)
                r["queue"] = {"setting": name, **(app.queue_info or {})}
            except Exception as e:  # noqa: BLE001 - one failed setting is reported, the sweep goes on
                r = {"failed": f"{e.__class__.__name__}: {e}"}
            finally:
                if app:
                    app.close()
            results[name] = r
            print(f"queue {name}: {r.get('requests')} requests, {r.get('errors', '?')} errors", file=sys.stderr)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    doc = {"when": time.strftime("%Y-%m-%dT%H:%M:%S"), "cores": os.cpu_count(),
           "load_avg_after": os.getloadavg(),
           "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(a).items()}, "results": results}
    OUT.write_text(json.dumps(doc, indent=2) + "\n")
    print(json.dumps(doc, indent=2) if a.json else table(results))
    return 0 if all(not r.get("failed") and r["errors"] == 0 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
