"""Durable building blocks of session autosave (:mod:`.autosave`): an append-only, checksummed
JSONL log and atomic, fsync'd file writes.

Log lines
---------
One JSON object per line (keys sorted, no spaces, ASCII), ending with its checksum::

    {"event":"action","seq":7,...,"crc":"89abcdef"}

``crc`` is the CRC-32 (``zlib.crc32``, 8 hex digits) of the line's bytes before ``,"crc":``
plus the closing ``}`` (that is, of the record serialised without ``crc``). ``seq`` numbers
the lines 0, 1, 2, ... without gaps. A line is appended with one ``write`` and then
``fsync``'d before :meth:`ActionLog.append` returns, so a process killed at any moment leaves
every earlier line complete; only the last line can be torn (power loss may also leave a
zero-filled tail).

Reading (:func:`scan_log`): a last line that is incomplete or fails its checksum is *torn*
(ignored; recovery truncates it away). A bad line followed by good lines cannot come from a
crash (the file is only appended to, each line fsync'd): that is corruption, and
:func:`scan_log` refuses it with a :class:`~workbench.errors.DataError` naming the line, unless
asked to stop at it (``stop_at_corrupt=True``: the lines before it are kept).

Files
-----
:func:`write_files` writes each file to a temporary name in the same folder, ``fsync``'s it,
renames it into place (``os.replace``, atomic on POSIX and Windows) and finally ``fsync``'s the
folder, so a reader sees either no file or the complete file. Temporary names start with
``.`` and contain ``.tmp`` (:func:`is_temp_name`), so recovery can sweep them.
"""

from __future__ import annotations

import io
import json
import os
import re
import sys
import threading
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DataError

if sys.platform == "win32":  # pragma: no cover - advisory locks (one live session per folder) are POSIX only
    fcntl = None
else:
    import fcntl

_CRC = re.compile(rb',"crc":"([0-9a-f]{8})"\}$')
_TEMP = re.compile(
    r"^\..+\.[0-9a-f]{8}\.tmp$"  # ours and the store's: .<name>.<hex>.tmp
    r"|^.+\.(png|jpg|json|jsonl|npz|mp4)\.tmp$"  # write_palette_mask: <name>.tmp
    r"|^\..+\.tmp\d+\.[A-Za-z0-9]+$"
)  # workbench.io.export: .<stem>.tmp<pid><suffix>


# -- durable files ------------------------------------------------------------------------------------
def fsync_dir(folder: str | Path) -> None:
    """``fsync`` a directory so renames and new entries in it survive a power loss (no-op on
    Windows, where directories cannot be opened)."""
    if os.name == "nt":  # pragma: no cover
        return
    fd = os.open(str(folder), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_temp_name(name: str) -> bool:
    """True for the temporary names the workbench's atomic writes use: ours and the session
    store's (``.<name>.<8 hex>.tmp``), ``write_palette_mask``'s (``<name>.png.tmp``) and the
    exporters' (``.<stem>.tmp<pid><suffix>``). Other files are never taken for temporary."""
    return _TEMP.match(name) is not None


def write_files(folder: str | Path, files: dict[str, bytes]) -> list[Path]:
    """Write ``name -> bytes`` into ``folder`` atomically and durably: per file temp file +
    ``fsync`` + ``os.replace``, then one ``fsync`` of the folder. Returns the paths written.
    On an error the temporary file is removed and the error re-raised (files already renamed
    stay)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for name, data in files.items():
        path = folder / name
        tmp = folder / f".{name}.{uuid.uuid4().hex[:8]}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        out.append(path)
    if files:
        fsync_dir(folder)
    return out


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write one file atomically and durably (see :func:`write_files`)."""
    path = Path(path)
    return write_files(path.parent, {path.name: data})[0]


def remove_temp_files(folder: str | Path) -> list[Path]:
    """Delete every temporary file (:func:`is_temp_name`) under ``folder`` (recursively; the
    folder is a session's own): the leftovers of writes cut off by a crash. Returns the paths
    removed."""
    removed = []
    for root, _dirs, names in os.walk(folder):
        for name in names:
            if is_temp_name(name):
                p = Path(root) / name
                p.unlink(missing_ok=True)
                removed.append(p)
    for parent in {p.parent for p in removed}:
        fsync_dir(parent)
    return removed


def encode_mask_png(mask: np.ndarray, obj_id: int) -> bytes:
    """An ``(H, W)`` bool mask as DAVIS palette PNG bytes whose pixels are ``obj_id`` (1 for
    ids above 255) or 0, readable with :func:`workbench.io.images.read_palette_mask` (``> 0``).
    Fast zlib level 1: masks compress well anyway."""
    from PIL import Image

    from ..io.images import DAVIS_PALETTE

    value = obj_id if 1 <= obj_id <= 255 else 1
    img = Image.fromarray(np.asarray(mask, bool).astype(np.uint8) * np.uint8(value), mode="P")
    img.putpalette(DAVIS_PALETTE.reshape(-1).tolist())
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def encode_rgb_png(image: np.ndarray) -> bytes:
    """An ``(H, W, 3)`` uint8 RGB image as (lossless) PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG")
    return buf.getvalue()


# -- log lines -------------------------------------------------------------------------------------------
def encode_line(record: dict) -> bytes:
    """One log line (with ``crc`` and the newline) for ``record`` (a dict with ``seq``)."""
    body = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False)
    crc = zlib.crc32(body.encode("ascii"))
    return f'{body[:-1]},"crc":"{crc:08x}"}}\n'.encode("ascii")


def decode_line(raw: bytes) -> dict | None:
    """The record of one line (without its newline), or None when it is incomplete, fails its
    checksum or is not a JSON object with an integer ``seq``."""
    m = _CRC.search(raw.rstrip(b"\r"))
    if m is None:
        return None
    body = raw[: m.start()] + b"}"
    if zlib.crc32(body) != int(m.group(1), 16):
        return None
    try:
        rec = json.loads(body)
    except ValueError:
        return None
    if not isinstance(rec, dict) or isinstance(rec.get("seq"), bool) or not isinstance(rec.get("seq"), int):
        return None
    return rec


@dataclass
class LogScan:
    """What :func:`scan_log` found.

    Attributes
    ----------
    records : list of dict
        The valid lines, in order (``seq`` 0, 1, 2, ...).
    good_bytes : int
        Length of the valid prefix of the file.
    torn_bytes : int
        Bytes after it that were a torn last line (or a zero-filled tail).
    corrupt_bytes : int
        With ``stop_at_corrupt``: bytes from the first bad line on (0 otherwise).
    corrupt_line : int or None
        1-based number of that bad line.
    """

    records: list[dict] = field(default_factory=list)
    good_bytes: int = 0
    torn_bytes: int = 0
    corrupt_bytes: int = 0
    corrupt_line: int | None = None


def scan_log(path: str | Path, stop_at_corrupt: bool = False) -> LogScan:
    """Read an action log; see the module docstring for torn versus corrupt lines.

    Raises
    ------
    DataError
        A line other than the last one fails its checksum, or ``seq`` numbers skip or repeat
        (unless ``stop_at_corrupt``). The message names the line and the way out.
    """
    path = Path(path)
    data = path.read_bytes() if path.is_file() else b""
    out = LogScan()
    pos, lineno = 0, 0
    while pos < len(data):
        lineno += 1
        nl = data.find(b"\n", pos)
        if nl < 0:  # no newline: the last write was cut off
            out.torn_bytes = len(data) - pos
            break
        rec = decode_line(data[pos:nl])
        problem = None
        if rec is None:
            problem = "fails its checksum (or is not a complete JSON record)"
        elif rec["seq"] != len(out.records):
            problem = f"has seq {rec['seq']} where {len(out.records)} was expected"
        if problem is not None or rec is None:
            rest = data[nl + 1 :]
            if rec is None and not rest.strip(b"\x00\n"):  # the last line: torn, not corrupt
                out.torn_bytes = len(data) - pos
                break
            if stop_at_corrupt:
                out.corrupt_bytes, out.corrupt_line = len(data) - pos, lineno
                break
            following = rest.count(b"\n")
            raise DataError(
                f"{path}: line {lineno} (byte {pos}) {problem}, and {following} line(s) follow it. A crash "
                "can only tear the last line, so the log is corrupt (edited, or damaged on disk). Recover the "
                f"{len(out.records)} line(s) before it with recover(..., stop_at_corrupt=True) (the rest is kept "
                "aside in a .corrupt file), or restore the folder from a backup."
            )
        out.records.append(rec)
        pos = nl + 1
        out.good_bytes = pos
    return out


class ActionLog:
    """An open, locked, append-only log file (see the module docstring).

    Use :meth:`open`; :meth:`append` assigns ``seq`` and returns once the line is on disk.
    Appends are serialised by a lock, so any thread may append.
    """

    def __init__(self, path: Path, fd: int, next_seq: int, size: int):
        self.path, self._fd = path, fd
        self.next_seq, self.size = next_seq, size
        self._mutex = threading.Lock()

    @classmethod
    def open(cls, path: str | Path, next_seq: int = 0) -> ActionLog:
        """Open (create) ``path`` for appending and take an exclusive advisory lock on it.

        Raises
        ------
        DataError
            Another live process or session holds the lock (the folder is in use).
        """
        path = Path(path)
        existed = path.exists()
        fd = os.open(str(path), os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                raise DataError(
                    f"{path} is in use by another open session (in this or another process, e.g. a "
                    "kernel that is still running). Close that session first (session.close()), or "
                    "autosave to another folder."
                ) from exc
        if not existed:
            fsync_dir(path.parent)
        return cls(path, fd, next_seq, os.fstat(fd).st_size)

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def append(self, record: dict) -> int:
        """Append ``record`` (``seq`` is set here), ``fsync`` and return its ``seq``. On an
        error the file is cut back to its previous length and the error re-raised."""
        with self._mutex:
            if self._fd < 0:
                raise DataError(f"The autosave log {self.path} is closed; enable autosave again.")
            seq = self.next_seq
            line = encode_line({**record, "seq": seq})
            try:
                view = memoryview(line)
                while view:
                    n = os.write(self._fd, view)
                    view = view[n:]
                os.fsync(self._fd)
            except BaseException:
                self._truncate(self.size)
                raise
            self.size += len(line)
            self.next_seq = seq + 1
            return seq

    def _truncate(self, size: int) -> None:
        try:
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)
        except OSError:
            pass

    def truncate(self, size: int) -> None:
        """Cut the file to ``size`` bytes (drop a torn tail) durably."""
        with self._mutex:
            os.ftruncate(self._fd, size)
            os.fsync(self._fd)
            self.size = size

    def close(self) -> None:
        """Release the lock and close the file (idempotent)."""
        with self._mutex:
            if self._fd >= 0:
                os.close(self._fd)  # closing releases the flock
                self._fd = -1


__all__ = [
    "ActionLog",
    "LogScan",
    "atomic_write_bytes",
    "decode_line",
    "encode_line",
    "encode_mask_png",
    "encode_rgb_png",
    "fsync_dir",
    "is_temp_name",
    "remove_temp_files",
    "scan_log",
    "write_files",
]
