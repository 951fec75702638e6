"""Turn an article file (plain text, markdown or HTML) into an `Article`.

What is parsed: a title, a byline (author or outlet), a date (ISO), a url and
the body paragraphs. Photo captions are kept apart from the body, and header
lines, `Original url:` lines and trailing boilerplate (`See also:` blocks,
store links, bare link lists) never reach the body, so they can never be
quoted. Markdown inline syntax becomes plain text (links become their text).

The article's `text` is its body paragraphs, then its captions, joined by blank lines; every
offset elsewhere in the library points into that string.

What is left out: sentence splitting (`qa.sentences`) and anything about
indexing. Nothing here touches the disk except `read_article` and `read_files`.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from . import encoding
from .header import as_date, parse_byline

PARSER_VERSION = 4  # 2: photo captions are indexed (Article.units); 3: encodings detected (qa.encoding);
# 4: a lead that opens with "By" ("By 2025, 40% of…") is reporting, not a byline
EXTENSIONS = (".txt", ".md", ".markdown", ".html", ".htm")
MAX_FILE_BYTES = 10 * 1024 * 1024
PARAGRAPH_SEPARATOR = "\n\n"


class ArticleError(ValueError):
    """A file that cannot become an article; the message says why, in one line."""


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    paragraphs: tuple[str, ...]
    byline: str | None = None
    date: str | None = None  # YYYY-MM-DD
    url: str | None = None
    captions: tuple[str, ...] = ()
    fingerprint: str = ""
    source_name: str | None = None
    _starts: tuple[int, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self):
        starts, pos = [], 0
        for p in self.units:
            starts.append(pos)
            pos += len(p) + len(PARAGRAPH_SEPARATOR)
        object.__setattr__(self, "_starts", tuple(starts))

    @property
    def text(self) -> str:
        """The body paragraphs, then the photo captions, joined by blank lines."""
        return PARAGRAPH_SEPARATOR.join(self.units)

    @property
    def units(self) -> tuple[str, ...]:
        """What the index splits into sentences: the body paragraphs, then the photo captions."""
        return self.paragraphs + self.captions

    def is_caption(self, i: int) -> bool:
        """Whether unit `i` (of `units`) is a photo caption."""
        return i >= len(self.paragraphs)

    def paragraph_start(self, i: int) -> int:
        """Offset of unit `i` (a paragraph, or a caption after the last one) in `text`."""
        return self._starts[i]

    def to_dict(self) -> dict:
        return {"id": self.id, "title": self.title, "byline": self.byline,
                "date": self.date, "url": self.url}

    def to_record(self) -> dict:
        """Everything needed to restore the article without re-parsing."""
        return {**self.to_dict(), "paragraphs": list(self.paragraphs),
                "captions": list(self.captions), "fingerprint": self.fingerprint,
                "source_name": self.source_name}

    @classmethod
    def from_record(cls, rec: dict) -> "Article":
        return cls(id=rec["id"], title=rec["title"], byline=rec.get("byline"),
                   date=rec.get("date"), url=rec.get("url"),
                   paragraphs=tuple(rec["paragraphs"]), captions=tuple(rec.get("captions", ())),
                   fingerprint=rec.get("fingerprint", ""), source_name=rec.get("source_name"))


# --------------------------------------------------------------------- bytes

def fingerprint(data: bytes, parser_version: int = PARSER_VERSION) -> str:
    """Content hash of a file, salted with the parser version so a parser change re-indexes."""
    return hashlib.sha256(b"qa-parser-%d\n" % parser_version + data).hexdigest()


def decode(data: bytes) -> str:
    """Bytes to text in whatever encoding they are (`qa.encoding`); a binary file raises
    ArticleError saying so."""
    try:
        return encoding.decode(data)
    except encoding.NotText as e:
        raise ArticleError(str(e)) from None


def slug(name: str) -> str:
    """A safe article id from a file name: no path, no odd characters, bounded length."""
    stem = re.split(r"[\\/]", name)[-1]
    stem = re.sub(r"\.(txt|md|markdown|html?)$", "", stem, flags=re.I)
    stem = re.sub(r"[^\w.-]+", "-", stem, flags=re.ASCII).strip(".-_")
    return stem[:80] or "article"


# ---------------------------------------------------------------- public API

def read_article(path: str | Path, article_id: str | None = None) -> Article:
    path = Path(path)
    if not path.is_file():
        raise ArticleError(f"{path}: no such file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ArticleError(f"{path.name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    return parse_bytes(path.read_bytes(), path.name, article_id)


def read_files(files: Iterable[str | Path | tuple[str, bytes]], each: Callable[[], None] | None = None
               ) -> tuple[list[tuple[Article, bytes]], list[tuple[str, str]]]:
    """Article files given as paths or (name, bytes) pairs: (article, its bytes) for each good one
    and (file name, why) for each that is not (unreadable, too large, not an article). A path over
    MAX_FILE_BYTES is refused before it is read; a name keeps only its last part. `each()` is
    called once a file, for progress."""
    parsed, failed = [], []
    for f in files:
        if each:
            each()
        if isinstance(f, tuple):
            name, data = f
        else:
            name = Path(f).name
            try:
                if Path(f).stat().st_size > MAX_FILE_BYTES:  # refused before reading it into memory
                    raise ArticleError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
                data = Path(f).read_bytes()
            except (OSError, ArticleError) as e:
                failed.append((name, f"cannot read: {e.__class__.__name__}" if isinstance(e, OSError) else str(e)))
                continue
        name = Path(str(name).replace("\\", "/")).name or "article.txt"
        try:
            parsed.append((parse_bytes(data, name), data))
        except ArticleError as e:
            failed.append((name, str(e).removeprefix(f"{name}: ")))
    return parsed, failed


def parse_bytes(data: bytes, name: str, article_id: str | None = None) -> Article:
    """Parse one article file's bytes; `name` gives the format (by extension) and default id."""
    ext = Path(name).suffix.lower()
    if ext not in EXTENSIONS:
        raise ArticleError(f"{name}: unsupported file type '{ext or 'none'}' (use .txt, .md or .html)")
    if len(data) > MAX_FILE_BYTES:
        raise ArticleError(f"{name}: larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    try:
        text = decode(data)
    except ArticleError as e:
        raise ArticleError(f"{name}: {e}") from None
    if ext in (".html", ".htm") or (ext == ".txt" and _looks_like_html(text)):
        fields = _parse_html(text, name)
    else:
        fields = _parse_text(text, name)
    if not fields["paragraphs"]:
        raise ArticleError(f"{name}: no article text found (only a title or header?)")
    if fields["url"] and not re.match(r"https?://\S+$", fields["url"], re.I):
        fields["url"] = None  # "javascript:…" or a bare word is not a link to the source
    return Article(id=article_id or slug(name), fingerprint=fingerprint(data),
                   source_name=Path(name).name, **fields)


def _looks_like_html(text: str) -> bool:
    head = text[:2000].lstrip().lower()
    return head.startswith(("<!doctype html", "<html"))


# ------------------------------------------------------------- text/markdown

_md = None


def _inline(text: str) -> str:
    """Markdown inline syntax to plain text: links become their text, emphasis goes."""
    global _md
    if _md is None:
        from markdown_it import MarkdownIt
        _md = MarkdownIt("commonmark", {"html": False})
    if not re.search(r"[\[\]*_`<\\&]", text):
        return text
    out = []
    for tok in _md.parseInline(text)[0].children or []:
        if tok.type in ("text", "code_inline"):
            out.append(tok.content)
        elif tok.type in ("softbreak", "hardbreak"):
            out.append(" ")
    return "".join(out)


_HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")
_URL_LABEL = re.compile(r"^(?:original\s+url|source\s+url|url|source|link|permalink)\s*:\s*(\S*)\s*$", re.I)
_BARE_URL = re.compile(r"^<?(https?://\S+?)>?$")
_CUT_MARKER = re.compile(
    r"^(?:see also|related(?: articles| stories| coverage)?|read more|more from .{1,40}|"
    r"recommended(?: for you)?|you may also like|share this(?: article)?|tags)\s*:?$", re.I)
_NOISE = re.compile(r"^(?:advertisement|sponsored|share|tweet|email|print|"
                    r"subscribe\b.*|sign up\b.*|follow us\b.*|©.*|copyright\b.*|all rights reserved\.?)$", re.I)
_PHOTO_CREDIT = re.compile(
    r"\((?:[^()]*\b(?:photo|photograph|image|picture|file photo)s?\b[^()]*|"
    r"AP|AFP|Reuters|Getty Images|EPA)\)\s*$|^(?:photo|image|picture)\s*(?:credit)?\s*:|"
    r"\b(?:AP|AFP|Reuters|Getty Images|EPA)\s*(?:Photo|/)", re.I)
_MONTHS = r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|" \
          r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
_FULL_DATE = re.compile(_MONTHS + r"\s+\d{1,2},\s+\d{4}")
# Captions describe the picture in the present tense ("X holds up a sign ...",
# "X and Y meet at ... on March 14, 2014"): AP caption style.
_SCENE_VERB = re.compile(
    r"\b(?:holds?|meets?|speaks?|stands?|walks?|looks?|attends?|arrives?|gestures?|sits?|poses?|"
    r"waves?|listens?|talks?|shakes?|delivers?|addresses?|leaves?|enters?|marches|march|"
    r"protests?|carries|carry|rides?|watches|watch|greets?|hugs?|is seen|are seen|"
    r"pictured|shown)\b")


def _blocks(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\f", "\n")
    return [b.strip() for b in re.split(r"\n[ \t]*\n", text) if b.strip()]


def _clean(s: str) -> str:
    s = re.sub(r"[ \t\u00a0]+", " ", s.replace("\n", " ")).strip()
    return re.sub(r"^\(\s*[–—-]\s*", "", s)  # an emptied dateline: "( – Russia is ..."


def _is_caption(block: str, position: int) -> bool:
    if _PHOTO_CREDIT.search(block):
        return True
    if position > 1 or len(block) > 600:
        return False
    return bool(_FULL_DATE.search(block) and _SCENE_VERB.search(block))


def _is_boilerplate_tail(block: str) -> bool:
    """Short trailing lines without sentence punctuation: store links, nav, credits."""
    return len(block) < 100 and not re.search(r"[.!?\"”’'»)]$", block)


def _rejoin(body: list[str]) -> list[str]:
    """Join a block that stops mid-sentence to the next when that one goes on in lower case:
    some archives break a paragraph after a name ("... Ethiopia's" / "failed in her bid ..."),
    and neither half is a sentence on its own."""
    out: list[str] = []
    for p in body:
        if out and re.match(r"[a-z]", p) and not re.search(r"[.!?:;\"”’')\]]$", out[-1]):
            out[-1] = f"{out[-1]} {p}"
        else:
            out.append(p)
    return out


def _parse_text(raw: str, name: str) -> dict:
    raw_blocks = _blocks(raw)
    # A plain file may put its title on the first line with the text right under it.
    if raw_blocks and "\n" in raw_blocks[0]:
        first, rest = raw_blocks[0].split("\n", 1)
        if len(first) < 200 and not re.search(r"[.!?,;:]$", first.strip()):
            raw_blocks[0:1] = [first.strip(), rest.strip()]

    blocks: list[tuple[str, str]] = []  # (kind, text)
    for b in raw_blocks:
        h = _HEADING.match(b.split("\n", 1)[0])
        if h and "\n" not in b:
            blocks.append(("heading", _clean(_inline(h.group(1)))))
        else:
            blocks.append(("text", _clean(_inline(b))))
    blocks = [(k, t) for k, t in blocks if t]

    title = byline = date = url = None
    body: list[str] = []
    header, cut = True, False
    i = 0
    while i < len(blocks):
        kind, t = blocks[i]
        m = _URL_LABEL.match(t)
        if m:
            target = m.group(1)
            if not target and i + 1 < len(blocks) and _BARE_URL.match(blocks[i + 1][1]):
                target = blocks[i + 1][1]
                i += 1
            if target and url is None:
                url = _BARE_URL.match(target).group(1) if _BARE_URL.match(target) else target
            i += 1
            continue
        if cut or _CUT_MARKER.match(t):
            cut = True  # "See also:" and what follows it is not the article; keep looking for the url
            i += 1
            continue
        if header:
            if title is None and (kind == "heading" or len(t) < 200):
                title = t
                i += 1
                continue
            if byline is None and (found := parse_byline(t)):
                byline, bdate = found
                date = date or bdate
                i += 1
                continue
            if date is None and len(t) < 60 and (d := as_date(re.sub(r"^(published|updated|date)\s*:?\s*", "", t, flags=re.I))):
                date = d
                i += 1
                continue
            header = False
        if _NOISE.match(t) or (kind == "heading" and body):
            i += 1
            continue
        body.append(t)
        i += 1

    while body and (_is_boilerplate_tail(body[-1]) or _BARE_URL.match(body[-1])):
        body.pop()
    body = _rejoin(body)
    captions, paragraphs = [], []
    for p in body:
        (captions if _is_caption(p, len(paragraphs)) else paragraphs).append(p)
    if title is None:
        title = slug(name)
    return {"title": title, "byline": byline, "date": date, "url": url,
            "paragraphs": tuple(paragraphs), "captions": tuple(captions)}


# ---------------------------------------------------------------------- HTML

def _parse_html(html: str, name: str) -> dict:
    import trafilatura
    doc = trafilatura.bare_extraction(html, with_metadata=True, include_comments=False,
                                      include_tables=False, include_images=False,
                                      favor_recall=True, deduplicate=False)
    text = (doc.text if doc is not None else "") or ""
    if not text.strip():
        text = trafilatura.html2txt(html) or ""
    paragraphs = [p for p in (_clean(x) for x in text.split("\n")) if p]
    meta_title = doc.title if doc is not None else None
    title = _clean(meta_title or "") or (paragraphs[0] if paragraphs and len(paragraphs[0]) < 200 else slug(name))
    if paragraphs and paragraphs[0] == title:
        paragraphs = paragraphs[1:]
    captions = [p for p in paragraphs if _PHOTO_CREDIT.search(p)]
    date = None
    if doc is not None and doc.date:
        date = as_date(doc.date)
    byline = _clean(doc.author) if doc is not None and doc.author else None
    if not byline and doc is not None and doc.sitename:
        byline = _clean(doc.sitename)
    url = doc.url if doc is not None and doc.url else None
    return {"title": title, "byline": byline, "date": date, "url": url,
            "paragraphs": tuple(p for p in paragraphs if p not in captions), "captions": tuple(captions)}
