"""Answers and articles as the web chat shows them: HTML with all untrusted text escaped.

Everything that came from an article or a reader is untrusted: it is HTML-escaped and its
markdown punctuation turned into entities before it is shown, so a `<script>`, an `onerror`
image or a `javascript:` link in an article is displayed as text, never run. The only links
are the ones written here: http(s) source urls, and in-page `#qa-…` links that the page's
script (`page.js`) turns into "open in article" and "copy with citation". Gradio's chat
sanitizer drops `data-` attributes, so what those actions need travels in the link's
fragment (url-quoted) and in a hidden span (escaped text).

What is left out: the Gradio components and their events (`web.library_view`, `app.py`).
"""

from __future__ import annotations

import datetime
import html
import re
from urllib.parse import quote as url_quote, unquote

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


def date_text(iso: str) -> str:
    """'2014-10-22' -> '22 Oct 2014'; anything else as it is."""
    try:
        d = datetime.date.fromisoformat(iso)
    except (TypeError, ValueError):
        return iso
    return f"{d.day} {d:%b %Y}"


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def source_line(article: dict, with_title: bool = True) -> str:
    parts = [f"<strong>{esc(article.get('title'))}</strong>"] if with_title else []
    if article.get("byline"):
        parts.append(esc(article["byline"]))
    if article.get("date"):
        parts.append(esc(date_text(article["date"])))
    url = safe_url(article.get("url"))
    if url:
        parts.append(f'<a href="{url}" target="_blank" rel="noopener noreferrer nofollow">source</a>')
    return '<p class="qa-source">' + " · ".join(parts) + "</p>"


def citation(q: dict) -> str:
    """'“text” — Title, Byline, 22 Oct 2014, url': a quote as a reader pastes it elsewhere."""
    a = q["article"]
    url = a.get("url") if safe_url(a.get("url")) else None  # a javascript: "url" is not a source
    src = [a.get("title"), a.get("byline"), a.get("date") and date_text(a["date"]), url]
    return f"“{q['text']}” — " + ", ".join(x for x in src if x)


def open_ref(article_id: str, start: int | None = None, end: int | None = None) -> str:
    """The fragment of an "open in article" link: '#qa-article:ID[:START:END]' (the id url-quoted)."""
    ref = "#qa-article:" + url_quote(article_id, safe="")
    return ref if start is None else f"{ref}:{int(start)}:{int(end)}"


def parse_ref(ref: str) -> tuple[str, int | None, int | None] | None:
    """`open_ref`'s fragment back to (article id, start, end); None for anything else."""
    m = re.fullmatch(r"#?qa-article:([^:\s]{1,400})(?::(\d{1,9}):(\d{1,9}))?", (ref or "").strip())
    if not m:
        return None
    start, end = (int(m[2]), int(m[3])) if m[2] else (None, None)
    return unquote(m[1]), start, end


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
    parts = [f"“{esc(d['phrase'])}” = {esc(date_text(d['date']))}" for d in q["dates"]]
    return '<p class="qa-dates">' + " · ".join(parts) + "</p>"


def _also_in(q: dict) -> str:
    """Other articles that carry the same sentence (syndicated copy)."""
    others = q.get("also_in") or []
    if not others:
        return ""
    names = "; ".join(" · ".join(esc(x) for x in (a.get("title"), a.get("byline"), a.get("date") and date_text(a["date"]))
                                 if x) for a in others)
    return f'<p class="qa-also">{q.get("sources", 1 + len(others))} sources — also in: {names}</p>'


def _actions(q: dict) -> str:
    ref = html.escape(open_ref(q["article"]["id"], q["start"], q["end"]), quote=True)
    return (f'<p class="qa-actions"><a href="{ref}" class="qa-open">Open in article</a> · '
            f'<a href="#qa-copy" class="qa-copy">Copy with citation</a>'
            f'<span class="qa-cite" hidden style="display:none">{esc(citation(q))}</span></p>')


def _quote(n: int, q: dict) -> str:
    return "\n".join(x for x in [
        f'<blockquote class="qa-quote"><p><span class="qa-n">{n}</span> {esc(q["text"])}</p></blockquote>',
        _speaker_line(q),
        source_line(q["article"]),
        _dates_line(q),
        _also_in(q),
        _actions(q),
        f'<details class="qa-context"><summary>Show the paragraph</summary>{_context(q)}</details>',
    ] if x)


def render(answer: dict) -> str:
    """`Answer.to_dict()` as the chat shows it (markdown with a little HTML, all text escaped)."""
    quotes = "\n\n".join(_quote(i, q) for i, q in enumerate(answer["quotes"], 1))
    note = ""
    if answer["query"] and answer["query"] != " ".join(answer["question"].split()):
        note = f'\n\n<p class="qa-note">Read as a follow-up: “{esc(answer["query"])}”</p>'
    if answer["answered"]:
        n_articles = len({q["article"]["id"] for q in answer["quotes"]})
        head = (f'<p class="qa-head">{plural(len(answer["quotes"]), "quote")} from '
                f'{plural(n_articles, "article")}</p>')
        return head + "\n\n" + quotes + note
    if not answer["quotes"]:
        return "**The articles don't say.** There is nothing in the library to quote." + note
    return ("**The articles don't say.** Nothing in them answers this well enough to quote." + note +
            f'\n\n<details class="qa-closest"><summary>The closest passages ({len(answer["quotes"])})</summary>\n\n'
            + quotes + "\n\n</details>")


# ------------------------------------------------------------------ the article view

def _marked(text: str, base: int, start: int | None, end: int | None) -> str:
    """A paragraph (at offset `base` of the article's text) with [start, end) marked, if it meets it."""
    if start is None or end <= base or start >= base + len(text):
        return esc(text)
    a, b = max(0, start - base), min(len(text), end - base)
    return f'{esc(text[:a])}<mark class="qa-hit">{esc(text[a:b])}</mark>{esc(text[b:])}'


def article_html(article, start: int | None = None, end: int | None = None) -> str:
    """A `qa.Article` to read: title, byline, date, link, the body with its paragraph breaks and
    its photo captions; the text at [start, end) of `article.text` marked (an opened quote)."""
    if start is not None and not (0 <= start < end <= len(article.text)):
        start = end = None
    body = []
    for i, unit in enumerate(article.units):
        p = _marked(unit, article.paragraph_start(i), start, end)
        body.append(f'<p class="qa-caption">Photo caption: {p}</p>' if article.is_caption(i) else f"<p>{p}</p>")
    return (f'<article class="qa-article"><h2 class="qa-article-title">{esc(article.title)}</h2>'
            + source_line(article.to_dict(), with_title=False) + "\n".join(body) + "</article>")
