"""Line-exact file translation: streamed in chunks, written to a temporary file, renamed."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from pathlib import Path
from typing import Iterator

from s2s_batch.runtime.errors import InputError, OutputError

CHUNK_LINES = 10_000
_BOM = b"\xef\xbb\xbf"


def read_lines(stream, name: str, errors: str = "strict") -> Iterator[str]:
    """Decoded lines of a binary stream, split only at b'\\n'.

    CRLF and a leading UTF-8 BOM are removed. Splitting at bytes (not str.splitlines)
    keeps other Unicode line breaks inside their line, so line N stays line N.
    """
    offset = 0
    for number, raw in enumerate(stream, start=1):
        body = raw[:-1] if raw.endswith(b"\n") else raw
        if body.endswith(b"\r"):
            body = body[:-1]
        start = offset
        if number == 1 and body.startswith(_BOM):
            body, start = body[len(_BOM):], offset + len(_BOM)
        try:
            yield body.decode("utf-8", errors=errors)
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: line {number}: invalid UTF-8 at file byte offset {start + exc.start}; "
                             "fix the file or pass --errors replace") from None
        offset += len(raw)


def chunks(lines: Iterator[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for line in lines:
        chunk.append(line)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@contextlib.contextmanager
def open_input(src):
    if str(src) == "-":
        yield sys.stdin.buffer
        return
    try:
        f = open(src, "rb")
    except OSError as exc:
        raise InputError(f"{src}: cannot read input ({exc.strerror}); check the path") from None
    with f:
        yield f


@contextlib.contextmanager
def atomic_output(dst):
    """A binary file that appears at `dst` only when complete ('-' writes to stdout)."""
    if str(dst) == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    dst = Path(dst)
    try:
        fd, tmp = tempfile.mkstemp(dir=dst.parent if str(dst.parent) else ".", prefix=f".{dst.name}.",
                                   suffix=".partial")
    except OSError as exc:
        raise OutputError(f"{dst}: cannot write output ({exc.strerror}); check the folder "
                          "exists and is writable") from None
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except OSError as exc:
        raise OutputError(f"{dst}: writing failed ({exc.strerror}); no output was left behind") from None
    finally:
        Path(tmp).unlink(missing_ok=True)


def count_lines(src) -> int | None:
    """Lines in a file for the progress bar; None for stdin."""
    if str(src) == "-":
        return None
    with open(src, "rb") as f:
        n, last = 0, b"\n"
        for block in iter(lambda: f.read(1 << 20), b""):
            n += block.count(b"\n")
            last = block[-1:]
        return n + (last != b"\n")


def translate_stream_file(translator, src, dst, *, errors: str = "strict",
                          chunk_lines: int = CHUNK_LINES, progress: bool | None = None):
    """Translate src to dst line for line; returns the translator's Stats."""
    from tqdm import tqdm

    if errors not in ("strict", "replace"):
        raise ValueError("errors must be 'strict' or 'replace'")
    show = sys.stderr.isatty() if progress is None else progress
    # Counting costs a pass over the file, so only for a bar that will be seen.
    total = count_lines(src) if show and Path(str(src)).is_file() else None
    with open_input(src) as fin, atomic_output(dst) as fout, \
            tqdm(total=total, unit="line", disable=not show, file=sys.stderr,
                 dynamic_ncols=True) as bar:
        for chunk in chunks(read_lines(fin, str(src), errors), chunk_lines):
            out = translator.translate_batch(chunk)
            fout.write("".join(line + "\n" for line in out).encode("utf-8"))
            bar.update(len(chunk))
    return translator.stats
