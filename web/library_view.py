"""The Library tab: the archive's articles to search, sort, page through, open, add and remove.

The list is one page (25) of `qa.catalog.find` at a time, so it stays fast at 100k articles.
A click on a title, or on "open in article" under a quote in the chat, opens the article:
title, byline, date, link, the body with its paragraph breaks, the quoted sentence marked
and scrolled into view (`page.js`). Removing is done from that view, after a confirmation.
Uploads take several files or .zip archives (`qa.zipfiles` reads those in memory, with caps)
and report each file: added, already indexed, or refused and why.

What is left out: rendering (`web.render`), the chat (`app.py`), everything about indexing (`qa`).
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

import qa
from qa import catalog, zipfiles

from .render import article_html, date_text, esc, open_ref, parse_ref, plural

MAX_UPLOAD_MB = 10  # per file (Gradio's limit; .zip entries are capped by qa.zipfiles)
# What one upload may unpack in all: indexed in one step that holds the writer lock, so less
# than the command line's 200 MB a zip.
MAX_UNPACKED_MB = 50
UPLOAD_TYPES = [".txt", ".md", ".markdown", ".html", ".htm", ".zip"]
READ_ONLY = "This server is read-only: adding and removing articles need a login (QA_AUTH)."


def read_uploads(paths) -> tuple[list[tuple[str, bytes]], list[tuple[str, str]]]:
    """Uploaded files (and the articles inside uploaded .zip files) as (name, bytes), and the
    ones refused with why."""
    got = zipfiles.expand(paths or [], max_file_bytes=MAX_UPLOAD_MB * 1024 * 1024,
                          max_total_bytes=MAX_UNPACKED_MB * 1024 * 1024)
    return list(got.files), list(got.refused)


def report(added, skipped, already=()) -> str:
    """One line per file: added, already indexed, or not added and why."""
    lines = [f"✓ Added **{esc(a.title)}** ({plural(len(a.paragraphs), 'paragraph')}), answerable now." for a in added]
    lines += [f"• Already indexed: **{esc(name)}** (as {esc(aid)}); nothing to do." for name, aid in already]
    lines += [f"✗ Not added: **{esc(name)}**: {esc(why)}. Nothing was changed for this file." for name, why in skipped]
    return "\n\n".join(lines) or "No file was given."


def find(library, query: str = "", sort: str = "newest", page: int = 1, size: int = catalog.PAGE_SIZE) -> catalog.Page:
    """A page of the catalogue (`qa.catalog.find`): of the library's index, or asked of the served
    archive (`qa.serve.Served.find`) when the chat serves one (QA_SERVE)."""
    if hasattr(library, "find"):
        return library.find(query, sort, page, size)
    return catalog.find(library.index, query, sort, page, size)


def counts_line(page: catalog.Page) -> str:
    return f"**{plural(page.articles, 'article')}**, {plural(page.sentences, 'sentence')}"


def list_html(page: catalog.Page, query: str) -> str:
    if not page.rows:
        return ('<p class="qa-empty">No article matches that search.</p>' if query
                else '<p class="qa-empty">The library is empty: add articles below.</p>')
    items = []
    for r in page.rows:
        meta = [esc(x) for x in (r.get("byline"), r.get("date") and date_text(r["date"])) if x]
        meta.append(plural(r["sentences"], "sentence"))
        items.append(f'<li><a href="{esc(open_ref(r["id"]))}" class="qa-open qa-title">{esc(r["title"])}</a>'
                     f'<span class="qa-meta">{" · ".join(meta)}</span></li>')
    first = (page.page - 1) * catalog.PAGE_SIZE + 1
    return f'<ol class="qa-list" start="{first}">' + "".join(items) + "</ol>"


def page_line(page: catalog.Page, query: str) -> str:
    found = f"{page.matches:,} {'match' if page.matches == 1 else 'matches'} · " if query else ""
    return f"{found}page {page.page:,} of {page.pages:,}"


@dataclass
class View:
    """What `app.py` wires: `refresh()` gives the values of `refresh_outputs` on page load; `hidden`
    are components to render outside the tabs."""
    refresh: object
    refresh_outputs: list
    hidden: list


def build(library: qa.Library, tabs: gr.Tabs, writable: bool) -> View:
    """The tab's components and events; call inside `with gr.Tab(...)`."""
    count = gr.Markdown(elem_id="qa-count")
    with gr.Column() as list_col:
        with gr.Row(equal_height=True):
            search = gr.Textbox(label="Search the library", placeholder="Title, outlet or words in the text",
                                max_length=catalog.MAX_QUERY_CHARS, scale=4, elem_id="qa-search")
            sort = gr.Dropdown(choices=[(v, k) for k, v in catalog.SORTS.items()], value="newest",
                               label="Sort", scale=1, min_width=140, elem_id="qa-sort")
        listing = gr.HTML(elem_id="qa-list")
        with gr.Row(equal_height=True):
            prev_btn = gr.Button("← Previous", size="sm", min_width=90, elem_id="qa-prev")
            page_md = gr.Markdown(elem_id="qa-page")
            next_btn = gr.Button("Next →", size="sm", min_width=90, elem_id="qa-next")
        uploads = gr.File(label=f"Add articles: .txt, .md, .html (up to {MAX_UPLOAD_MB} MB each) or .zip of them",
                          file_count="multiple", file_types=UPLOAD_TYPES, type="filepath",
                          elem_id="qa-upload", interactive=writable)
    with gr.Column(visible=False) as article_col:
        with gr.Row():
            back_btn = gr.Button("← Back to the list", size="sm", scale=0, min_width=160, elem_id="qa-back")
        article_view = gr.HTML(elem_id="qa-article")
        remove_btn = gr.Button("Remove from the library…", variant="stop", size="sm", elem_id="qa-remove",
                               visible=writable)
        with gr.Group(visible=False) as confirm_box:
            confirm_md = gr.Markdown(elem_id="qa-confirm")
            with gr.Row():
                yes_btn = gr.Button("Yes, remove it", variant="stop", elem_id="qa-remove-yes")
                no_btn = gr.Button("Cancel", elem_id="qa-remove-no")
    status = gr.Markdown("" if writable else READ_ONLY, elem_id="qa-status")
    # Rendered by app.py outside the tabs: a tab's content is not in the page until it is shown,
    # and "open in article" is clicked in the chat.
    ref = gr.Textbox(visible="hidden", elem_id="qa-open-ref", render=False)
    opener = gr.Button(visible="hidden", elem_id="qa-open-btn", render=False)
    page_no = gr.State(1)
    current = gr.State({"id": None, "from": "list"})  # the open article, and where it was opened from

    def show_list(query: str, sort_key: str, page: int):
        p = find(library, query or "", sort_key or "newest", page or 1)
        return (counts_line(p), list_html(p, query), page_line(p, query), p.page,
                gr.update(interactive=p.page > 1), gr.update(interactive=p.page < p.pages))

    list_outputs = [count, listing, page_md, page_no, prev_btn, next_btn]
    view_outputs = [list_col, article_col, confirm_box]

    def list_view():
        """`view_outputs` showing the list (the article and the confirmation hidden)."""
        return gr.update(visible=True), gr.update(visible=False), gr.update(visible=False)

    def refresh(query="", sort_key="newest", page=1):
        return show_list(query, sort_key, page)

    def open_article(value: str):
        origin, _, ref_text = (value or "").partition(" ")
        parsed = parse_ref(ref_text)
        article = parsed and library.get(parsed[0])
        if not article:
            return (gr.Tabs(selected="library"), *list_view(), gr.update(), {"id": None, "from": "list"},
                    "That article is no longer in the library.", gr.update())
        back = "← Back to the chat" if origin == "chat" else "← Back to the list"
        return (gr.Tabs(selected="library"), gr.update(visible=False), gr.update(visible=True),
                gr.update(visible=False), article_html(article, parsed[1], parsed[2]),
                {"id": article.id, "from": origin}, "" if writable else READ_ONLY, gr.update(value=back))

    open_outputs = [tabs, list_col, article_col, confirm_box, article_view, current, status, back_btn]

    def go_back(state):
        tab = "chat" if state.get("from") == "chat" else "library"
        return gr.Tabs(selected=tab), *list_view()

    def ask_remove(state):
        article = library.get(state.get("id") or "")
        if not writable or not article:
            return gr.update(visible=False), "", READ_ONLY if not writable else "That article is no longer in the library."
        return (gr.update(visible=True),
                f"Remove **{esc(article.title)}** from the library? Its sentences will no longer be quoted.", "")

    def remove(state, query, sort_key, page):
        if not writable:
            msg = READ_ONLY
        else:
            try:
                gone = library.remove(state.get("id") or "")
                msg = f"✓ Removed **{esc(gone.title)}**."
            except KeyError:
                msg = "That article is no longer in the library."
            except qa.IndexFileError as e:
                msg = f"✗ Nothing was removed: {esc(str(e))}"
        return (msg, *list_view(), *show_list(query, sort_key, page))

    def add(paths, query, sort_key, progress=gr.Progress()):
        if not writable:
            return (READ_ONLY, None, *show_list(query, sort_key, 1))
        progress(0.0, desc="Reading the files")
        files, refused = read_uploads(paths)
        added, already = [], []
        if files:
            try:
                res = library.add(files, progress=lambda f, d: progress(f, desc=f"Indexing: {d}"))
            except qa.IndexFileError as e:
                return (f"✗ Nothing was added: {esc(str(e))}", None, *show_list(query, sort_key, 1))
            added, already = res.added, res.already
            refused += res.failed
        return (report(added, refused, already), None, *show_list(query, sort_key, 1))

    def search_list(query, sort_key):
        return show_list(query, sort_key, 1)

    def previous_page(query, sort_key, page):
        return show_list(query, sort_key, page - 1)

    def next_page(query, sort_key, page):
        return show_list(query, sort_key, page + 1)

    quiet = dict(api_visibility="private", show_progress="hidden")
    search.change(search_list, [search, sort], list_outputs, trigger_mode="always_last", **quiet)
    sort.input(search_list, [search, sort], list_outputs, **quiet)
    prev_btn.click(previous_page, [search, sort, page_no], list_outputs, **quiet)
    next_btn.click(next_page, [search, sort, page_no], list_outputs, **quiet)
    opener.click(open_article, ref, open_outputs, js="(v) => [window.qaRef || '']", **quiet).then(None, js="() => window.qaShowHit && window.qaShowHit()")
    back_btn.click(go_back, current, [tabs, *view_outputs], **quiet)
    remove_btn.click(ask_remove, current, [confirm_box, confirm_md, status], **quiet)
    no_btn.click(lambda: gr.update(visible=False), None, confirm_box, **quiet)
    yes_btn.click(remove, [current, search, sort, page_no], [status, *view_outputs, *list_outputs], **quiet)
    uploads.upload(add, [uploads, search, sort], [status, uploads, *list_outputs], api_visibility="private",
                   concurrency_limit=1)
    return View(refresh=refresh, refresh_outputs=list_outputs, hidden=[ref, opener])
