"""An article file's bytes to text, whatever its encoding; binary files refused.

UTF-8 (the common case) is decoded directly, without guessing. A byte-order mark names
UTF-32 or UTF-16. A file with NUL bytes is UTF-16 without a byte-order mark if it reads as
such (ASCII characters have a NUL high byte there), else binary. Anything else goes to
charset-normalizer, which recognises the legacy code pages (cp1252 and latin-1, Shift_JIS,
KOI8-R, GB18030, …) by how plausibly each decoding reads. Whatever decodes must still look
like text (few control characters).

What is left out: what the text says (`qa.articles`).
"""

from __future__ import annotations

BINARY_MAGIC = (b"\x89PNG", b"%PDF", b"GIF8", b"\xff\xd8\xff", b"PK\x03\x04", b"\x7fELF", b"\x1f\x8b")
BINARY = "this is a binary file (image, PDF, archive…), not a text or HTML article"
SNIFF = 65536  # bytes looked at to tell text from binary


class NotText(ValueError):
    """Bytes that are not text in any encoding read here; the message says why, in one line."""


def decode(data: bytes) -> str:
    """The text of an article file's bytes; NotText for a binary file or an unknown encoding."""
    if data.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")):
        text = _strict(data, "utf-32", "the file claims to be UTF-32 but does not decode as UTF-32")
    elif data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = _strict(data, "utf-16", "the file claims to be UTF-16 but does not decode as UTF-16")
    elif data.startswith(BINARY_MAGIC):
        raise NotText(BINARY)
    elif b"\x00" in data[:SNIFF]:
        text = _utf16_without_bom(data)
        if text is None:
            raise NotText(BINARY)
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _detect(data)
    head = text[:SNIFF]
    controls = sum(1 for ch in head if ord(ch) < 32 and ch not in "\t\n\r\f")
    if controls > max(8, len(head) // 100):
        raise NotText("this looks like a binary file, not a text or HTML article")
    return text


def _strict(data: bytes, encoding: str, why: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        raise NotText(why) from e


def _utf16_without_bom(data: bytes) -> str | None:
    """The text of UTF-16 (LE or BE) without a byte-order mark, or None when the bytes do not
    read as UTF-16 text (binary data: its NULs come in pairs and odd places, and decode to noise)."""
    from charset_normalizer import from_bytes
    best = from_bytes(data, cp_isolation=["utf_16_le", "utf_16_be"]).best()
    text = str(best) if best is not None else None
    return None if text is None or "\x00" in text[:SNIFF] else text


def _detect(data: bytes) -> str:
    """Not UTF-8: the encoding charset-normalizer finds most plausible (imported only now)."""
    from charset_normalizer import from_bytes
    matches = from_bytes(data)
    best = matches.best()
    # Western text in a single-byte code page reads the same in several (cp1250, cp1252, …
    # all decode "café"): cp1252, what most such news files are and what this always assumed,
    # wins whenever it reads as well as the best guess. latin-1 text decodes the same in it.
    if best is None or any("cp1252" in m.could_be_from_charset and m.chaos <= best.chaos for m in matches):
        try:
            return data.decode("cp1252")
        except UnicodeDecodeError as e:
            if best is None:
                raise NotText("this looks like a binary file (no text encoding reads it), "
                              "not a text or HTML article") from e
    return str(best)
