"""Turn uploads (article files and zip archives of them) into `(name, bytes)` pairs, safely.

`expand(items)` takes paths or `(name, bytes)` pairs, as `Library.add` does, and
returns the article files to hand to it plus what was refused and why. A zip is
recognised by its first bytes, not only its name, and is treated as hostile: it
is opened in memory and each entry is read by name, never extracted, so entry
names such as `../../etc/passwd.txt` or `C:\\x.txt` are only names. Sizes are
counted while decompressing, not taken from the zip's headers, so a zip bomb is
stopped at the cap rather than unpacked.

The stdlib `zipfile` is enough because nothing is written to disk and every
read goes through `ZipFile.open`, which streams one entry, stops at the size its
header declares and checks its CRC (so a lying header ends in a refusal, not a
flood); what a hardened extractor adds (path sanitising, link handling) concerns
writing files, which this module never does.

What is left out: tar, gzip, 7z and rar (refused, not opened), archives inside
archives, and parsing (`qa.articles`); de-duplication is the library's.
"""

from __future__ import annotations

import io
import os
import re
import stat
import unicodedata
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .articles import EXTENSIONS, MAX_FILE_BYTES

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # an archive with entries; an empty one
ARCHIVE_MAGIC = ZIP_MAGIC + (b"\x1f\x8b", b"7z\xbc\xaf\x27\x1c", b"Rar!\x1a\x07")
ARCHIVE_EXTENSIONS = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".zst")
CHUNK = 64 * 1024


@dataclass(frozen=True)
class Expanded:
    files: list[tuple[str, bytes]] = field(default_factory=list)  # ("archive.zip/dir/story.txt", bytes)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (name, why)


class _TooBig(Exception):
    pass


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n:,} bytes"


def _clean(name: str) -> str:
    """A name from an upload or a zip, as harmless text: forward slashes, no empty, '.' or '..'
    parts, no drive letter or leading slash. Its last part is the article's file name."""
    name = re.sub(r"[\x00-\x1f\x7f]", "", str(name)).replace("\\", "/")
    name = "".join(c for c in name if unicodedata.category(c) != "Cf")  # no right-to-left override
    name = re.sub(r"^[A-Za-z]:", "", name)  # a Windows drive letter
    return "/".join(p for p in name.split("/") if p not in ("", ".", ".."))


def _read(stream, cap: int) -> bytes:
    """At most `cap` bytes from `stream`, in chunks; more than that raises `_TooBig`."""
    buf = bytearray()
    while chunk := stream.read(min(CHUNK, cap + 1 - len(buf))):
        buf += chunk
        if len(buf) > cap:
            raise _TooBig(cap)
    return bytes(buf)


def _read_path(path, max_file_bytes: int, zip_cap: int) -> bytes:
    """A file's bytes, its size checked before reading (and again while reading: it may grow)."""
    if not stat.S_ISREG(os.stat(path).st_mode):  # a fifo or /dev/zero would never end
        raise OSError(0, "not a regular file")
    with open(path, "rb") as f:
        cap = zip_cap if f.read(4) in ZIP_MAGIC else max_file_bytes
        if os.fstat(f.fileno()).st_size > cap:
            raise _TooBig(cap)
        f.seek(0)
        return _read(f, cap)


def expand(items: Iterable[str | os.PathLike | tuple[str, bytes]], *, max_entries: int = 10_000,
           max_total_bytes: int = 200 * 1024 * 1024, max_file_bytes: int = MAX_FILE_BYTES) -> Expanded:
    """Article files pass through; zips become their article entries. `max_total_bytes` bounds
    everything decompressed or returned by one call (refused entries count: it is work done);
    a zip that passes it is refused whole, so memory and time stay bounded whatever comes in."""
    out = Expanded()
    used = 0
    for item in items:
        name = _clean(item[0] if isinstance(item, tuple) else os.fspath(item)).rsplit("/", 1)[-1] or "upload"
        ext = Path(name).suffix.lower()
        if ext not in EXTENSIONS + (".zip", ""):  # refused before reading: a .docx is a zip too
            out.refused.append((name, f"not an article file ({ext})"))
            continue
        zip_cap = max(max_file_bytes, max_total_bytes)  # a zip of articles may hold up to the total
        try:
            if isinstance(item, tuple):
                data = item[1]
                cap = zip_cap if data.startswith(ZIP_MAGIC) else max_file_bytes
                if len(data) > cap:
                    raise _TooBig(cap)
            else:
                data = _read_path(item, max_file_bytes, zip_cap)
        except _TooBig as e:
            out.refused.append((name, f"larger than {_mb(e.args[0])}"))
            continue
        except OSError as e:
            out.refused.append((name, f"cannot read: {e.strerror or e}"))
            continue
        if data.startswith(ZIP_MAGIC):
            try:
                files, refused, spent = _unzip(name, data, max_entries, max_total_bytes - used, max_file_bytes)
            except _TooBig:
                out.refused.append((name, f"unpacks to more than {_mb(max_total_bytes)}"
                                    + (" with the files before it" if used else "") + "; refused whole (a zip bomb?)"))
                continue
            except Exception as e:  # noqa: BLE001 - hostile bytes may trip zipfile anywhere; refuse, never crash
                out.refused.append((name, f"not a readable zip archive ({e.__class__.__name__}: {e})"))
                continue
            out.files.extend(files)
            out.refused.extend(refused)
            used += spent
        elif ext == ".zip":
            out.refused.append((name, "not a zip archive (no zip header: renamed or corrupt?)"))
        elif ext not in EXTENSIONS:
            out.refused.append((name, f"not an article file ({ext or 'no extension'})"))
        elif used + len(data) > max_total_bytes:
            out.refused.append((name, f"over the {_mb(max_total_bytes)} limit for one upload"))
        else:
            out.files.append((name, data))
            used += len(data)
    return out


def _unzip(zname: str, data: bytes, max_entries: int, budget: int, max_file_bytes: int):
    """(article entries, refused, bytes decompressed) of one zip, read in memory entry by entry.
    Decompressing more than `budget` bytes in all raises `_TooBig`: nothing is kept from it."""
    files: list[tuple[str, bytes]] = []
    refused: list[tuple[str, str]] = []
    spent = 0
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, EOFError, OSError, NotImplementedError) as e:
        return [], [(zname, f"not a readable zip archive (truncated or corrupt: {e})")], 0
    with zf:
        infos = zf.infolist()
        if len(infos) > max_entries:
            return [], [(zname, f"too many entries ({len(infos):,}; the limit is {max_entries:,})")], 0
        for info in infos:
            inner = _clean(info.filename)
            if info.filename.endswith(("/", "\\")) or inner.split("/")[0] == "__MACOSX":
                continue  # folders, and the resource forks macOS adds, are not files anyone chose
            shown, where = f"{zname}/{inner}", f"inside {zname}"
            if not inner:
                refused.append((f"{zname}/{info.filename!r}", f"{where}: no usable file name"))
                continue
            ext = Path(inner).suffix.lower()
            mode = info.external_attr >> 16
            why = None
            if stat.S_ISLNK(mode):
                why = "a symbolic link (not followed)"
            elif ext in ARCHIVE_EXTENSIONS:
                why = "archives inside archives are not opened"
            elif ext not in EXTENSIONS:
                why = f"not an article file ({ext or 'no extension'})"
            elif info.flag_bits & 0x1:
                why = "encrypted (password-protected entries are not opened)"
            if why:
                refused.append((shown, f"{where}: {why}"))
                continue
            cap = min(max_file_bytes, budget - spent)  # counted as it inflates: headers can lie
            try:
                with zf.open(info) as stream:
                    body = _read(stream, cap)
            except _TooBig:
                if cap < max_file_bytes:
                    raise
                spent += cap
                refused.append((shown, f"{where}: larger than {_mb(max_file_bytes)}"))
                continue
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                    RuntimeError, ValueError, OSError) as e:
                refused.append((shown, f"{where}: corrupt or unreadable entry ({e or e.__class__.__name__})"))
                continue
            spent += len(body)
            if body.startswith(ARCHIVE_MAGIC):
                refused.append((shown, f"{where}: archives inside archives are not opened"))
                continue
            files.append((shown, body))
    return files, refused, spent
