"""The web chat: ask the articles in a browser, read the quotes with their sources, add your own articles.

A thin Gradio layer over `qa.Library`: it renders answers as markdown, lists,
adds and removes articles, and names two API endpoints (`/chat` returns the
markdown the chat shows, `/ask` returns `Answer.to_dict()`). The library is
opened and the model loaded once, before the server starts, so the first
question is as fast as the rest.

Everything that came from an article or a reader is untrusted: it is
HTML-escaped and its markdown punctuation turned into entities before it is
shown, so a `<script>`, an `onerror` image or a `javascript:` link in an
article is displayed as text, never run. The only links are the ones written
here, and only for http(s) urls.

Access: on 127.0.0.1 (the default) anyone who can reach the port is the
machine's own user. Bound to any other address, adding and removing articles
need a login: set QA_AUTH=user:password and the app is served behind Gradio's
login; without it the app is read-only (ask only) and says so at start.

What is left out: retrieval, quoting and abstention (all in `qa`).
`python app.py` serves on 127.0.0.1:7860; GRADIO_SERVER_NAME / GRADIO_SERVER_PORT change that.
"""

from __future__ import annotations

import os

# Before gradio is imported: without these, gradio and huggingface_hub call out at start and at exit.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import datetime  # noqa: E402
import html  # noqa: E402
import re  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

import qa  # noqa: E402

MAX_UPLOAD_MB = 10
QUEUE_CONCURRENCY = 2
QUEUE_MAX_SIZE = 64
UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm"]
EXAMPLES = [
    "Why isn't Russia in the coalition?",
    "What did Samantha Power say about Assad?",
    "What does Lavrov want the West to do about Assad?",
]
TITLE = "Ask the articles"

# Markdown punctuation as numeric entities: the renderer shows the character but never
# reads it as syntax, inside markdown and inside raw HTML blocks alike.
_MD_ENTITIES = {c: f"&#{ord(c)};" for c in "\\`*_[]|~"}
_MD_CHARS = re.compile("[" + re.escape("".join(_MD_ENTITIES)) + "]")


def esc(text: str | None) -> str:
    """Untrusted text, safe to put in markdown or HTML: tags and link/image syntax become plain text."""
    s = html.escape(text or "", quote=True)
    s = _MD_CHARS.sub(lambda m: _MD_ENTITIES[m.group()], s)
    return s.replace("\n", " ")


def safe_url(url: str | None) -> str | None:
    """The url, escaped for an href, if it is a plain http(s) url; else None."""
    if not url or not re.match(r"^https?://[^\s<>\"'`]+$", url, re.I):
        return None
    return html.escape(url, quote=True)


# ------------------------------------------------------------------ rendering

def _date(iso: str) -> str:
    """'2014-10-22' -> '22 Oct 2014'; anything else as it is."""
    try:
        d = datetime.date.fromisoformat(iso)
    except ValueError:
        return iso
    return f"{d.day} {d:%b %Y}"


def _source_line(article: dict) -> str:
    parts = [f"<strong>{esc(article.get('title'))}</strong>"]  # the source of the quote
    if article.get("byline"):
        parts.append(esc(article["byline"]))
    if article.get("date"):
        parts.append(esc(_date(article["date"])))
    url = safe_url(article.get("url"))
    if url:
        parts.append(f'<a href="{url}" target="_blank" rel="noopener noreferrer nofollow">source</a>')
    return '<p class="qa-source">' + " · ".join(parts) + "</p>"


def _context(q: dict) -> str:
    """The paragraph with the quoted sentences marked."""
    ctx, a, b = q["context"], q["start"] - q["context_start"], q["end"] - q["context_start"]
    if not (0 <= a <= b <= len(ctx)) or ctx[a:b] != q["text"]:
        a = ctx.find(q["text"])
        b = a + len(q["text"])
    if a < 0:
        return f"<p>{esc(ctx)}</p>"
    return f"<p>{esc(ctx[:a])}<mark>{esc(ctx[a:b])}</mark>{esc(ctx[b:])}</p>"


def _speaker_line(q: dict) -> str:
    """'— Sergei Lavrov, Foreign Minister' for a quote or paraphrase; 'photo caption' for a
    caption; nothing for narration."""
    if q.get("kind") == "caption":
        return '<p class="qa-speaker"><span class="qa-kind">(photo caption)</span></p>'
    if not q.get("speaker") or q.get("kind") == "narration":
        return ""
    who = ", ".join(esc(x) for x in (q["speaker"], q.get("speaker_title")) if x)
    said = "quoted" if q.get("kind") == "quote" else "paraphrased"
    return f'<p class="qa-speaker">— {who} <span class="qa-kind">({said})</span></p>'


def _dates_line(q: dict) -> str:
    """Relative dates in the quote, resolved: '“on Monday” = 25 Aug 2014'."""
    if not q.get("dates"):
        return ""
    parts = [f"“{esc(d['phrase'])}” = {esc(_date(d['date']))}" for d in q["dates"]]
    return '<p class="qa-dates">' + " · ".join(parts) + "</p>"


def _also_in(q: dict) -> str:
    """Other articles that carry the same sentence (syndicated copy)."""
    others = q.get("also_in") or []
    if not others:
        return ""
    names = "; ".join(" · ".join(esc(x) for x in (a.get("title"), a.get("byline"), a.get("date") and _date(a["date"]))
                                 if x) for a in others)
    return f'<p class="qa-also">{q.get("sources", 1 + len(others))} sources — also in: {names}</p>'


def _quote(n: int, q: dict) -> str:
    return "\n".join(x for x in [
        f'<blockquote class="qa-quote"><p><span class="qa-n">{n}</span> {esc(q["text"])}</p></blockquote>',
        _speaker_line(q),
        _source_line(q["article"]),
        _dates_line(q),
        _also_in(q),
        f'<details class="qa-context"><summary>Show the paragraph</summary>{_context(q)}</details>',
    ] if x)


def render(answer: dict) -> str:
    """`Answer.to_dict()` as the chat shows it (markdown with a little HTML, all text escaped)."""
    quotes = "\n\n".join(_quote(i, q) for i, q in enumerate(answer["quotes"], 1))
    note = ""
    if answer["query"] and answer["query"] != " ".join(answer["question"].split()):
        note = f'\n\n<p class="qa-note">Read as a follow-up: “{esc(answer["query"])}”</p>'
    if answer["answered"]:
        return quotes + note
    if not answer["quotes"]:
        return "**The articles don't say.** There is nothing in the library to quote." + note
    return ("**The articles don't say.** Nothing in them answers this well enough to quote." + note +
            f'\n\n<details class="qa-closest"><summary>The closest passages ({len(answer["quotes"])})</summary>\n\n'
            + quotes + "\n\n</details>")


def _text(content) -> str:
    """A chat message's content (a string, or Gradio 6's list of parts) as plain text."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, (list, tuple)):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type", "text") == "text")
    return ""


def previous_questions(history) -> list[str]:
    """The reader's earlier questions, oldest first, as they typed them (the chat stores them escaped)."""
    return [html.unescape(t) for m in history or [] if isinstance(m, dict) and m.get("role") == "user"
            and (t := _text(m.get("content")).strip())]


class EscapingChat(gr.ChatInterface):
    """A ChatInterface that shows the reader's question as text: escaped before Gradio renders it.

    Gradio renders user messages as sanitized markdown, which still lets `<img src=x>` through as
    an element. This hooks the one private method every user message passes through (Gradio 6.31).
    """

    def _message_as_message_dict(self, message, role):
        if role == "user" and isinstance(message, str):
            message = esc(html.unescape(message))  # unescape first: a retry resubmits the stored text
        return super()._message_as_message_dict(message, role)


# ------------------------------------------------------------------ library tab

def _rows(library: qa.Library) -> list[list]:
    return [[a["title"], _date(a["date"]) if a["date"] else "", a["byline"] or "", a["sentences"]]
            for a in library.articles()]


def _choices(library: qa.Library) -> list[tuple[str, str]]:
    return [(f"{a['title']} ({a['id']})", a["id"]) for a in library.articles()]


def _read_uploads(paths) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
    files, refused = [], []
    for p in paths or []:
        p = Path(getattr(p, "name", p))
        try:
            if p.stat().st_size > MAX_UPLOAD_MB * 1024 * 1024:
                refused.append((p.name, f"larger than {MAX_UPLOAD_MB} MB"))
                continue
            files.append((p.name, p.read_bytes()))
        except OSError as e:
            refused.append((p.name, f"cannot read the upload ({e.__class__.__name__})"))
    return files, refused


def _report(added, skipped) -> str:
    lines = [f"✓ Added **{esc(a.title)}** ({len(a.paragraphs)} paragraphs), answerable now." for a in added]
    lines += [f"✗ Not added: **{esc(name)}**: {esc(why)}. Nothing was changed for this file." for name, why in skipped]
    return "\n\n".join(lines) or "No file was given."


# ------------------------------------------------------------------ the app

CSS = """
.gradio-container { max-width: 920px !important; margin: 0 auto !important; }
.qa-quote { margin: 0.2em 0 0.1em 0 !important; border-left: 3px solid #7c8db5 !important;
            padding: 0.1em 0 0.1em 0.8em !important; font-size: 1.02em; line-height: 1.5; }
.qa-quote p { margin: 0 !important; }
.qa-n { display: inline-block; min-width: 1.5em; height: 1.5em; line-height: 1.5em; text-align: center;
        border-radius: 50%; background: #e6eaf3; color: #334; font-size: 0.8em; font-weight: 600;
        margin-right: 0.35em; font-style: normal; }
.qa-speaker { margin: 0.15em 0 0 0 !important; font-size: 0.95em; font-weight: 600; }
.qa-kind { font-weight: 400; opacity: 0.7; font-size: 0.9em; }
.qa-source { margin: 0.1em 0 0.2em 0 !important; font-size: 0.88em; opacity: 0.85; }
.qa-dates, .qa-also { margin: 0 0 0.2em 0 !important; font-size: 0.82em; opacity: 0.75; }
.qa-context, .qa-closest { margin: 0 0 1.1em 0 !important; font-size: 0.9em; }
.qa-context summary, .qa-closest summary { cursor: pointer; opacity: 0.8; }
.qa-context p { margin: 0.3em 0 0 0 !important; padding: 0.5em 0.7em; border-radius: 6px;
                background: rgba(127, 127, 127, 0.08); }
.qa-context mark { background: #fff1a8; color: inherit; padding: 0 0.1em; }
.qa-note { font-size: 0.85em; opacity: 0.75; margin-top: 0.3em !important; }
footer { display: none !important; }
/* The example questions' table also lists the (empty) filter values: show the question only. */
#qa-chat-tab table th:nth-child(n+2), #qa-chat-tab table td:nth-child(n+2) { display: none; }
#qa-chat-tab table thead { display: none; }
#qa-articles table, #qa-articles td, #qa-articles td * { font-family: var(--font) !important; }
@media (max-width: 600px) {
  .gradio-container { padding: 0 8px !important; }
  .qa-intro h2 { font-size: 1.3em !important; margin-bottom: 0.2em !important; }
  .qa-intro p { font-size: 0.85em; line-height: 1.4; }
  .qa-quote, .qa-quote p { font-size: 16px !important; line-height: 1.45 !important; }
  .qa-quote { padding-left: 0.6em !important; }
  .qa-source, .qa-context { font-size: 0.82em; }
}
"""
_SYSTEM_FONT = ("system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif")
THEME = gr.themes.Soft(font=_SYSTEM_FONT, font_mono=("ui-monospace", "Menlo", "Consolas", "monospace"))


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")


def access(server_name: str) -> tuple[list[tuple[str, str]] | None, bool, str]:
    """(Gradio auth, whether the library may be changed, what to tell the operator) for a bind address."""
    user, _, password = (os.environ.get("QA_AUTH") or "").partition(":")
    auth = [(user, password)] if user and password else None
    if auth:
        return auth, True, f"Login required (QA_AUTH user '{user}')."
    if is_loopback(server_name):
        return None, True, ""
    return None, False, (f"Bound to {server_name}, not loopback: the library is read-only (asking works; adding "
                         "and removing articles are off). Set QA_AUTH=user:password to allow them behind a login.")


READ_ONLY = "This server is read-only: adding and removing articles need a login (QA_AUTH)."


def build_app(library: qa.Library, writable: bool = True) -> gr.Blocks:
    """The Blocks app over an opened library; launch it with `serve`. `writable=False`: ask only."""

    def chat(message: str, history: list, speaker: str = "", source: str = "", since: str = "",
             until: str = "") -> str:
        """Ask the articles; returns the answer as the chat shows it (markdown).
        Optional filters: speaker, source (outlet or author), since/until (YYYY-MM-DD)."""
        filters = {k: v.strip() for k, v in (("speaker", speaker), ("source", source), ("since", since),
                                              ("until", until)) if isinstance(v, str) and v.strip()}
        try:
            ans = library.ask(html.unescape(_text(message)), history=previous_questions(history), **filters)
        except (qa.QuestionError, qa.IndexFileError) as e:
            return f"⚠ {esc(str(e)[:1].upper() + str(e)[1:])}."
        return render(ans.to_dict())

    def ask(question: str, history: list[str] | None = None, speaker: str | None = None,
            source: str | None = None, since: str | None = None, until: str | None = None) -> dict:
        """Ask the articles; returns the structured answer, Answer.to_dict(). `history`: earlier questions,
        oldest first; optional filters: speaker, source (outlet or author), since/until (YYYY-MM-DD)."""
        try:
            return library.ask(question, history=history or None, speaker=speaker or None,
                               source=source or None, since=since or None, until=until or None).to_dict()
        except qa.QuestionError as e:
            raise gr.Error(str(e), print_exception=False) from None

    def refresh():
        return gr.update(value=_rows(library)), gr.update(choices=_choices(library), value=None)

    def add(paths, progress=gr.Progress()):
        if not writable:
            return (READ_ONLY, None, *refresh())
        progress(0.0, desc="Reading the files")
        files, refused = _read_uploads(paths)
        if files:
            try:
                res = library.add(files, progress=lambda f, d: progress(f, desc=f"Indexing: {d}"))
            except qa.IndexFileError as e:
                return (f"✗ Nothing was added: {esc(str(e))}", None, *refresh())
            added, skipped = res.added, refused + res.skipped
        else:
            added, skipped = [], refused
        return (_report(added, skipped), None, *refresh())

    def remove(article_id):
        if not writable:
            return (READ_ONLY, *refresh())
        if not article_id:
            return ("Choose an article to remove first.", *refresh())
        try:
            gone = library.remove(article_id)
        except KeyError:
            return ("That article is no longer in the library.", *refresh())
        except qa.IndexFileError as e:
            return (f"✗ Nothing was removed: {esc(str(e))}", *refresh())
        return (f"✓ Removed **{esc(gone.title)}**.", *refresh())

    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"## {TITLE}\nAsk a question about the news articles in the library. "
                    "Every answer is a verbatim quote with its source, or a plain *the articles don't say*.",
                    elem_classes="qa-intro")
        with gr.Tabs():
            with gr.Tab("Chat", elem_id="qa-chat-tab"):
                EscapingChat(
                    chat, api_name="chat", examples=[[q, "", "", "", ""] for q in EXAMPLES], examples_label="Try asking",
                    chatbot=gr.Chatbot(height=560, show_label=False, layout="bubble",
                                       placeholder="Ask something, or pick an example below.",
                                       feedback_options=None, buttons=["copy"],
                                       allow_tags=False, latex_delimiters=[]),
                    textbox=gr.Textbox(placeholder="Ask the articles… (follow-ups work too)", elem_id="qa-question",
                                       show_label=False, submit_btn=True, stop_btn=False),
                    fill_height=False, autofocus=True,
                    additional_inputs=[
                        gr.Textbox(value="", label="Speaker", placeholder="e.g. Lavrov", max_length=200, min_width=120, render=False),
                        gr.Textbox(value="", label="Outlet or author", placeholder="e.g. Moscow Times", max_length=200, min_width=120, render=False),
                        gr.Textbox(value="", label="From date", placeholder="YYYY-MM-DD", max_length=10, min_width=120, render=False),
                        gr.Textbox(value="", label="To date", placeholder="YYYY-MM-DD", max_length=10, min_width=120, render=False)],
                    additional_inputs_accordion=gr.Accordion("Filter by speaker, outlet or date", open=False))
            with gr.Tab("Library"):
                table = gr.Dataframe(headers=["Title", "Date", "Outlet", "Sentences"], value=_rows(library),
                                     datatype=["str", "str", "str", "number"], interactive=False,
                                     wrap=True, label="Articles", column_widths=["50%", "16%", "22%", "12%"],
                                     buttons=[], elem_id="qa-articles")
                with gr.Row():
                    uploads = gr.File(label=f"Add articles (.txt, .md, .html; up to {MAX_UPLOAD_MB} MB each)",
                                      file_count="multiple", file_types=UPLOAD_TYPES, type="filepath",
                                      elem_id="qa-upload", interactive=writable)
                with gr.Row():
                    doomed = gr.Dropdown(choices=_choices(library), value=None, label="Remove an article",
                                         scale=4, elem_id="qa-remove-choice")
                    remove_btn = gr.Button("Remove", variant="stop", scale=1, min_width=100,
                                           elem_id="qa-remove", interactive=writable)
                status = gr.Markdown("" if writable else READ_ONLY, elem_id="qa-status")
        uploads.upload(add, uploads, [status, uploads, table, doomed], api_visibility="private",
                       concurrency_limit=1)
        remove_btn.click(remove, doomed, [status, table, doomed], api_visibility="private")
        demo.load(refresh, None, [table, doomed], api_visibility="private")
        gr.api(ask, api_name="ask")
    return demo


def open_library(**kwargs) -> qa.Library:
    """Open (building if needed) the library and load the model, so the first question is fast.

    `kwargs` go to `qa.Library`; by default its locations come from QA_INDEX / QA_SEEDS."""
    library = qa.Library(**kwargs)
    library.index
    library.ask(EXAMPLES[0])
    return library


def server_address(server_name: str | None = None, server_port: int | None = None) -> tuple[str, int]:
    return (server_name or os.environ.get("GRADIO_SERVER_NAME") or "127.0.0.1",
            int(server_port or os.environ.get("GRADIO_SERVER_PORT") or 7860))


def serve(demo: gr.Blocks, server_name: str | None = None, server_port: int | None = None,
          block: bool = True, auth=None) -> str:
    """Start the server (never a share link); returns the local url."""
    server_name, server_port = server_address(server_name, server_port)
    # Measured with benchmarks/load.py (32 users, 2 cores): throughput is CPU-bound and the same at any
    # concurrency; 2 matches the cores without unbounded threads. max_size must stay above the number
    # of people asking at once (16 turned most of 32 away); 64 waiting is about 6 s for the last one.
    demo.queue(default_concurrency_limit=QUEUE_CONCURRENCY, max_size=QUEUE_MAX_SIZE)
    _, url, _ = demo.launch(server_name=server_name, server_port=server_port, share=False, auth=auth,
                            prevent_thread_lock=True, quiet=True, show_error=True,
                            max_file_size=f"{MAX_UPLOAD_MB}mb", footer_links=[],
                            theme=THEME, css=CSS)
    if block:
        print(f"Web chat ready: {url}", flush=True)
        demo.block_thread()
    return url


def main() -> None:
    t = time.perf_counter()
    print("Loading the library and the model…", flush=True)
    library = open_library()
    print(f"Loaded {len(library.articles())} articles in {time.perf_counter() - t:.1f}s", flush=True)
    host, port = server_address()
    auth, writable, notice = access(host)
    if notice:
        print(notice, flush=True)
    serve(build_app(library, writable=writable), host, port, auth=auth)


if __name__ == "__main__":
    main()
