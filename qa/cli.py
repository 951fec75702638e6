"""`python -m qa`: build, ask, add, remove, list, serve, verify (and eval). A thin layer over `qa.Library`.

Library errors become one line on stderr and exit status 1 (2 for usage);
never a traceback. Heavy imports wait until a command needs them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def _library(args):
    serve_at = getattr(args, "serve", None)
    if serve_at:  # a shard set on Ray Serve (`qa.serve`, imported only then)
        from . import serve
        return serve.Served(serve_at)
    from .library import Library
    seeds = getattr(args, "seeds", None)
    return Library(index_dir=args.index, seeds_dir=seeds, shards=getattr(args, "shards", None))


MAX_SHARDS = 64  # qa.shards.MAX_SHARDS (not imported to parse arguments: it loads numpy and FAISS)


def _shard_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_SHARDS:
        raise argparse.ArgumentTypeError(f"{text!r}: a whole number of shards from 1 to {MAX_SHARDS}")
    return n


FILTERS = ("speaker", "source", "since", "until")


def _filters(args) -> dict:
    return {f: getattr(args, f) for f in FILTERS if getattr(args, f, None)}


def _print_answer(ans, out=sys.stdout) -> None:
    print(f"Q: {ans.question}", file=out)
    if ans.query != " ".join(ans.question.split()):
        print(f"   (searched as: {ans.query})", file=out)
    if not ans.answered:
        print("The articles don't say. Closest passages:" if ans.quotes else "The articles don't say.", file=out)
    for i, q in enumerate(ans.quotes, 1):
        a = q.article
        print(f"\n{i}. {q.text}", file=out)
        if q.speaker:
            print(f"   — {', '.join(x for x in (q.speaker, q.speaker_title) if x)} ({q.kind})", file=out)
        for d in q.dates:
            print(f"   ({d['phrase']}: {d['date']})", file=out)
        source = " · ".join(x for x in (a.title, a.byline, a.date, a.url) if x)
        print(f"   {source}  (score {q.score:.3f})", file=out)
        for other in q.also_in:
            print(f"   also in: {' · '.join(x for x in (other.title, other.byline, other.date) if x)}", file=out)


def _progress(args):
    """Bars on a terminal, plain lines in logs, nothing with --quiet (all on stderr)."""
    from .progress import Progress, Terminal
    return Progress() if getattr(args, "quiet", False) else Terminal()


def _engine(args, lib):
    """`--ray [ADDRESS]`: the build's per-article work on Ray (`qa.ray_build`, imported only then)."""
    if getattr(args, "ray", None) is None:
        return None
    from . import ray_build
    return ray_build.RayEngine(args.ray or None, lib.embedder)


def cmd_build(args) -> int:
    import time
    lib = _library(args)
    t = time.perf_counter()
    lib.engine = _engine(args, lib)
    try:
        index = lib.build(progress=_progress(args))
    finally:
        if lib.engine is not None:
            lib.engine.close()
    dt = time.perf_counter() - t
    n_emb = len(lib.last_embedded)
    from .generation import shards_in
    n_shards = shards_in(index)
    print(f"index {lib.index_dir}: {len(index.entries)} articles, {len(index)} sentences"
          f"{f' in {n_shards} shards' if n_shards > 1 else ''} "
          f"({n_emb} article{'s' if n_emb != 1 else ''} embedded) in {dt:.2f}s")
    return 0


def cmd_ask(args) -> int:
    lib = _library(args)
    if args.question == ["-"]:
        return _ask_batch(lib, args)
    question = " ".join(args.question)
    ans = lib.ask(question, k=args.k, **_filters(args))
    if args.json:
        print(json.dumps(ans.to_dict(), ensure_ascii=False))
    else:
        _print_answer(ans)
    return 0


def _ask_batch(lib, args) -> int:
    """JSON Lines in ({"question", "history"?}), one JSON answer a line out; the model loads once."""
    from .answer import QuestionError
    failures = 0
    for n, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            if not isinstance(req, dict) or "question" not in req:
                raise QuestionError('each line must be a JSON object with a "question"')
            filters = {**_filters(args), **{f: req[f] for f in FILTERS if req.get(f) is not None}}
            ans = lib.ask(req["question"], k=int(req.get("k", args.k)), history=req.get("history"), **filters)
            out = ans.to_dict()
        except (json.JSONDecodeError, QuestionError, ValueError, TypeError) as e:
            failures += 1
            out = {"question": req.get("question") if isinstance(locals().get("req"), dict) else None,
                   "error": f"line {n}: {e}"}
            print(f"qa: line {n}: {e}", file=sys.stderr)
        req = None
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 1 if failures else 0


def cmd_add(args) -> int:
    from pathlib import Path
    if args.ray and "://" not in args.ray and Path(args.ray).exists():  # `add --ray story.txt`: a file
        args.files.insert(0, args.ray)
        args.ray = ""
    # .zip archives are read in memory, entry by entry, with caps (qa.zipfiles); other files go
    # to the library as paths, so a long list of plain files has no total cap.
    zips = [f for f in args.files if f.lower().endswith(".zip")]
    files, refused = [f for f in args.files if f not in zips], []
    if zips:
        from . import zipfiles
        for z in zips:  # one at a time: the cap on what a call unpacks is per archive here
            got = zipfiles.expand([z])
            files, refused = files + got.files, refused + got.refused
    lib = _library(args)
    lib.engine = _engine(args, lib)
    try:
        res = lib.add(files, progress=_progress(args))
    finally:
        if lib.engine is not None:
            lib.engine.close()
    for a in res.added:
        print(f"added {a.id}: {a.title}")
    for name, article_id in res.already:
        print(f"qa: already indexed: {name} (as {article_id})", file=sys.stderr)
    for name, why in refused + res.failed:
        print(f"qa: skipped {name}: {why}", file=sys.stderr)
    # Idempotent: 0 when every file given is in the index now, whether added by this run or before.
    return 0 if res.ok and not refused else 1


def cmd_remove(args) -> int:
    lib = _library(args)
    a = lib.remove(args.id)
    print(f"removed {a.id}: {a.title}")
    return 0


def cmd_list(args) -> int:
    rows = _library(args).articles()
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=1))
        return 0
    for r in rows:
        meta = " · ".join(x for x in (r["date"], r["byline"]) if x)
        print(f"{r['id']}\t{r['sentences']:>4} sentences\t{r['title']}" + (f"  ({meta})" if meta else ""))
    return 0


def cmd_serve(args) -> int:
    """Deploy the shard set on Ray Serve: on the cluster at --ray (and return), or on a local runtime
    (and serve until interrupted)."""
    import time
    from . import serve
    from ray import serve as ray_serve
    from .library import default_index_dir
    index_dir = args.index or str(default_index_dir())
    serve.shard_set(index_dir)  # before Ray starts: is there a shard set to serve?
    serve.run(index_dir, args.ray or None, route_prefix="/", http={"host": args.host, "port": args.port},
              replicas=args.replicas)
    print(f"serving {index_dir} on Ray Serve as app '{serve.APP}': POST JSON to "
          f"http://{args.host}:{args.port}/, or QA_SERVE={args.ray or 'auto'} python -m qa ask ...", flush=True)
    if args.ray:
        return 0
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        ray_serve.shutdown()
    return 0


def cmd_verify(args) -> int:
    """Every data file's checksum and every stored article's fingerprint, against the manifest."""
    from pathlib import Path
    from . import integrity
    from .library import default_index_dir
    report = integrity.verify(Path(args.index) if args.index else default_index_dir())
    if not report.checksums:
        print("qa: this index was written before checksums: its data files are checked by size only "
              "(the next build, add or remove records them)", file=sys.stderr)
    for name, why in report.damaged:
        print(f"qa: missing: {name}" if why == "missing" else f"qa: damaged: {name} ({why})", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


def cmd_eval(args) -> int:
    from . import evaluate
    return evaluate.main(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m qa", description="Ask news articles; get verbatim quotes.")
    sub = p.add_subparsers(dest="command", required=True)
    index_help = "index folder (default: $QA_INDEX or index/)"

    def with_build_options(sp):
        sp.add_argument("--quiet", action="store_true", help="no progress on stderr")
        sp.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                        help="parse, split and embed on Ray: a local runtime on this machine's cores, or the "
                             "cluster at ADDRESS (auto, HEAD:6379) or $RAY_ADDRESS, from one of its nodes; "
                             "needs requirements-ray.txt")
        return sp

    def with_index(sp):
        sp.add_argument("--index", default=os.environ.get("QA_INDEX"), help=index_help)
        return sp

    b = with_index(sub.add_parser("build", help="(re)build the index from a folder of article files"))
    b.add_argument("--seeds", default=os.environ.get("QA_SEEDS"), help="articles folder (default: $QA_SEEDS or seeds/)")
    b.add_argument("--shards", type=_shard_count, default=None, metavar="N",
                   help="cut the index by article into N shards searched in parallel, ranked as one index "
                        "(default: as many as the index has, 1 for a new one)")
    with_build_options(b)
    b.set_defaults(func=cmd_build)

    a = with_index(sub.add_parser("ask", help="ask a question ('-' reads JSON Lines from stdin)"))
    a.add_argument("--k", type=int, default=3, help="how many quotes (default 3)")
    a.add_argument("--json", action="store_true", help="print Answer.to_dict() as JSON")
    a.add_argument("--speaker", help="only quotes by this speaker (a name, e.g. Power)")
    a.add_argument("--source", help="only articles from this outlet or author (matched loosely)")
    a.add_argument("--since", help="only articles dated on or after YYYY-MM-DD")
    a.add_argument("--until", help="only articles dated on or before YYYY-MM-DD")
    a.add_argument("--serve", default=os.environ.get("QA_SERVE"), metavar="ADDRESS",
                   help="ask the shard set served on Ray Serve (`serve`) through the Ray at ADDRESS "
                        "(ray://HEAD:10001, auto) instead of a local index (default: $QA_SERVE)")
    a.add_argument("question", nargs="+", help="the question, or - for JSON Lines on stdin")
    a.set_defaults(func=cmd_ask)

    ad = with_index(sub.add_parser("add", help="add article files (.txt, .md, .html) or .zip archives of them"))
    ad.add_argument("files", nargs="+")
    with_build_options(ad)
    ad.set_defaults(func=cmd_add)

    r = with_index(sub.add_parser("remove", help="remove an article by id"))
    r.add_argument("id")
    r.set_defaults(func=cmd_remove)

    ls = with_index(sub.add_parser("list", help="list the indexed articles"))
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(func=cmd_list)

    sv = with_index(sub.add_parser("serve", help="serve a shard set (build --shards N) on Ray Serve; "
                                                 "needs requirements-ray.txt"))
    sv.add_argument("--ray", default=None, metavar="ADDRESS",
                    help="deploy on the Ray cluster at ADDRESS and return (default: a local runtime, "
                         "served until interrupted)")
    sv.add_argument("--replicas", type=int, default=1, help="replicas of each shard (default 1)")
    sv.add_argument("--host", default="127.0.0.1", help="HTTP address (default 127.0.0.1)")
    sv.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    sv.set_defaults(func=cmd_serve)

    v = with_index(sub.add_parser("verify", help="check every index file's checksum and every stored article file"))
    v.set_defaults(func=cmd_verify)

    e = with_index(sub.add_parser("eval", help="evaluate quote retrieval on a JSON Lines question set"))
    e.add_argument("questions", help="JSON Lines: id, question, history?, support, context?")
    e.add_argument("--k", type=int, default=3)
    e.add_argument("--json", action="store_true")
    e.add_argument("--calibrate", choices=["all", "even", "odd"],
                   help="also pick the abstention threshold from these questions' scores (even/odd: by the "
                        "number in the id, the repo's fit/held-out split) and report it on all of them")
    e.add_argument("--compare", action="store_true",
                   help="before/after table: the first stage alone and with the second stage (qa.rerank), "
                        "on the fit (even ids) and held-out (odd ids) halves")
    e.set_defaults(func=cmd_eval)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    from .answer import QuestionError
    from .articles import ArticleError
    from .store import IndexFileError
    try:
        return args.func(args)
    except (QuestionError, ArticleError, IndexFileError, RuntimeError, OSError) as e:
        print(f"qa: {e}", file=sys.stderr)
        return 1
    except KeyError as e:
        print(f"qa: {e.args[0] if e.args else e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("qa: interrupted", file=sys.stderr)
        return 130
