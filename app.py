"""The web chat: ask the articles in a browser, read the quotes with their sources, add your own articles.

A thin Gradio layer over `qa.Library`: the Chat tab (answers rendered by `web.render`,
example questions that fit the library) and the Library tab (`web.library_view`), and two
named API endpoints (`/chat` returns the markdown the chat shows, `/ask` returns
`Answer.to_dict()`). The library is opened and the model loaded once, before the server
starts, so the first question is as fast as the rest. Everything from an article or a reader
is escaped before it is shown (`web.render`); the reader's own question through
`EscapingChat`, example questions too (they may be article titles).

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

import html  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gradio as gr  # noqa: E402

import qa  # noqa: E402
from web import library_view  # noqa: E402
from web.library_view import MAX_UPLOAD_MB, UPLOAD_TYPES  # noqa: E402,F401  (app's names before web/)
from web.render import esc, render  # noqa: E402,F401  (app.render, app.esc: the tested surface)

QUEUE_CONCURRENCY = 2
QUEUE_MAX_SIZE = 64
HERE = Path(__file__).resolve().parent
EXAMPLES = [
    "Why isn't Russia in the coalition?",
    "What did Samantha Power say about Assad?",
    "What does Lavrov want the West to do about Assad?",
]
TITLE = "Ask the articles"
CSS = (HERE / "web" / "page.css").read_text("utf-8")
HEAD = "<script>\n" + (HERE / "web" / "page.js").read_text("utf-8") + "\n</script>"


def examples_for(library: qa.Library) -> tuple[list[str], str]:
    """Starting points that fit what is loaded: the seed questions only over the seeds; otherwise
    the titles of the newest articles (of articles spread through the library when undated)."""
    if isinstance(library, qa.Library) and library.seeds_dir.resolve() == (HERE / "seeds").resolve() \
            and any(e.origin == "seed" for e in library.index.entries):
        return EXAMPLES, "Try asking"
    first = library_view.find(library, sort="newest", size=3)  # dated articles first, newest first
    if not first.rows:
        return [], ""
    if first.rows[0]["date"]:
        return [r["title"] for r in first.rows], "Start from a recent article"
    n = first.matches  # undated: three from across the list (titles A-Z), one page of one each
    picks = sorted({(2 * i + 1) * n // 6 for i in range(3)})
    return ([library_view.find(library, sort="newest", page=i + 1, size=1).rows[0]["title"] for i in picks],
            "Start from an article in the library")


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


# ------------------------------------------------------------------ the app

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

    examples, examples_label = examples_for(library)
    with gr.Blocks(title=TITLE) as demo:
        gr.Markdown(f"## {TITLE}\nAsk a question about the news articles in the library. "
                    "Every answer is a verbatim quote with its source, or a plain *the articles don't say*.",
                    elem_classes="qa-intro")
        with gr.Tabs(elem_id="qa-tabs") as tabs:
            with gr.Tab("Chat", id="chat", elem_id="qa-chat-tab"):
                EscapingChat(
                    chat, api_name="chat", examples=[[q, "", "", "", ""] for q in examples] or None,
                    examples_label=examples_label,
                    cache_examples=False,  # a cached example would reach the chat without EscapingChat
                    chatbot=gr.Chatbot(height=560, show_label=False, layout="bubble", elem_id="qa-chat",
                                       placeholder="Ask something, or pick an example below.",
                                       feedback_options=None, buttons=["copy"], autoscroll=False,
                                       allow_tags=False, latex_delimiters=[]),
                    textbox=gr.Textbox(placeholder="Ask the articles… (follow-ups work too; ↑ recalls the last question)",
                                       elem_id="qa-question", show_label=False, submit_btn=True, stop_btn=False),
                    fill_height=False, autofocus=True,
                    additional_inputs=[
                        gr.Textbox(value="", label="Speaker", placeholder="e.g. Lavrov", max_length=200, min_width=120, render=False),
                        gr.Textbox(value="", label="Outlet or author", placeholder="e.g. Moscow Times", max_length=200, min_width=120, render=False),
                        gr.Textbox(value="", label="From date", placeholder="YYYY-MM-DD", max_length=10, min_width=120, render=False),
                        gr.Textbox(value="", label="To date", placeholder="YYYY-MM-DD", max_length=10, min_width=120, render=False)],
                    additional_inputs_accordion=gr.Accordion(  # render=False: the chat renders it, once
                        "Filter by speaker, outlet or date", open=False, elem_id="qa-filters", render=False))
            with gr.Tab("Library", id="library", elem_id="qa-library-tab"):
                view = library_view.build(library, tabs, writable)
        for c in view.hidden:
            c.render()
        demo.load(view.refresh, None, view.refresh_outputs, api_visibility="private")
        gr.api(ask, api_name="ask")
    return demo


def open_library(**kwargs) -> qa.Library:
    """Open (building if needed) the library and load the model, so the first question is fast.

    `kwargs` go to `qa.Library`; by default its locations come from QA_INDEX / QA_SEEDS. With
    QA_SERVE set, the shard set served on Ray Serve there (`qa.serve.Served`), asked only."""
    if os.environ.get("QA_SERVE") and not kwargs:
        library = qa.default_library()
    else:
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
                            theme=THEME, css=CSS, head=HEAD)
    if block:
        print(f"Web chat ready: {url}", flush=True)
        demo.block_thread()
    return url


def main() -> None:
    t = time.perf_counter()
    print("Loading the library and the model…", flush=True)
    library = open_library()
    served = not isinstance(library, qa.Library)
    n = library.count()[0] if served else len(library.index.entries)
    print(f"Loaded {n} articles{' (served on Ray Serve)' if served else ''} in {time.perf_counter() - t:.1f}s",
          flush=True)
    host, port = server_address()
    auth, writable, notice = access(host)
    writable = writable and not served  # a served archive changes by a new build and deployment
    if notice:
        print(notice, flush=True)
    serve(build_app(library, writable=writable), host, port, auth=auth)


if __name__ == "__main__":
    main()
