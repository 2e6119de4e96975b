"""Line-exact file translation: input read in chunks, output through a resumable job."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import os
import queue
import stat
import sys
import threading
import zlib
from collections.abc import Iterable, Iterator
from typing import TypeVar

from s2s_batch.runtime.batching import chunks
from s2s_batch.runtime.errors import InputError, Interrupted
from s2s_batch.runtime.file_options import FileOptions
from s2s_batch.runtime.output import open_job
from s2s_batch.runtime.progress import Progress

T = TypeVar("T")
# Interactive input: lines that come within this of each other are translated together.
ANSWER_WAIT_S = 0.05
_BOM = b"\xef\xbb\xbf"


def read_lines(stream, name: str, errors: str = "strict") -> Iterator[str]:
    """Decoded lines of a binary stream, split only at b'\\n'.

    CRLF and a leading UTF-8 BOM are removed. Splitting at bytes (not str.splitlines)
    keeps other Unicode line breaks inside their line, so line N stays line N.
    """
    offset = 0
    for number, raw in enumerate(_raw_lines(stream, name), start=1):
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


def _raw_lines(stream, name: str) -> Iterator[bytes]:
    try:
        yield from stream
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt or truncated .gz file
        raise InputError(f"{name}: cannot read input ({exc}); check that the file is "
                         "complete (a .gz name means gzip)") from None


def is_gzip_path(path) -> bool:
    """Whether a path is read or written through gzip (by its .gz extension)."""
    return str(path).endswith(".gz")


def _open_binary(path):
    return gzip.open(path, "rb") if is_gzip_path(path) else open(path, "rb")


_END = object()


def answering_chunks(items: Iterable[T], size: int, wait: float) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items, each handed on as soon as no new item
    has come for `wait` seconds: a person typing into a pipe gets each line answered, and
    a stream that comes fast still fills whole chunks. Items are read on a thread; an
    error raised while reading them is raised here, after the items before it."""
    pending: queue.Queue = queue.Queue(maxsize=2 * size)

    def read() -> None:
        try:
            for item in items:
                pending.put((item, None))
            pending.put((_END, None))
        except BaseException as exc:  # handed to the consumer, raised there
            pending.put((_END, exc))

    threading.Thread(target=read, name="s2s-batch-reader", daemon=True).start()
    chunk: list[T] = []
    while True:
        try:
            item, error = pending.get(timeout=wait) if chunk else pending.get()
        except queue.Empty:
            yield chunk
            chunk = []
            continue
        if item is _END:
            if chunk:
                yield chunk
            if error is not None:
                raise error
            return
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []


def is_interactive(src) -> bool:
    """Whether src is stdin from a pipe or a terminal (not a regular file), so that each
    line should be answered as soon as it is translated."""
    if str(src) != "-":
        return False
    try:
        return not stat.S_ISREG(os.fstat(sys.stdin.fileno()).st_mode)
    except (OSError, ValueError, AttributeError):  # no real file behind stdin (a test's stream)
        return False


@contextlib.contextmanager
def open_input(src):
    """The binary input stream of a path ('-': stdin), as a context manager; an
    unreadable path is an InputError naming it."""
    if str(src) == "-":
        yield sys.stdin.buffer
        return
    try:
        f = _open_binary(src)
    except OSError as exc:
        raise InputError(f"{src}: cannot read input ({exc.strerror}); check the path") from None
    with f:
        yield f


def count_lines(src) -> int:
    """Lines in a file (after gzip decompression for a .gz name), for the progress bar."""
    with _open_binary(src) as f:
        n, last = 0, b"\n"
        for block in iter(lambda: f.read(1 << 20), b""):
            n += block.count(b"\n")
            last = block[-1:]
        return n + (last != b"\n")


def translated_chunks(translator, records: Iterator[tuple[str, str]], options: FileOptions,
                      first_line: int = 1, answer_wait: float | None = None) -> Iterator[tuple[bytes, int]]:
    """(output bytes, line count) for each chunk of (sentence, input line) records,
    translated here; with `answer_wait`, a chunk is cut short when no line has come for
    that many seconds. A line's sentences are split inside its chunk, so its pieces never
    straddle two."""
    search = options.search_options()
    grouped = (chunks(records, options.chunk_lines) if answer_wait is None
               else answering_chunks(records, options.chunk_lines, answer_wait))
    for chunk in grouped:
        sentences = [sentence for sentence, _ in chunk]
        results = translator.translate_batch(sentences, **search)
        translator.notable.note(results, first_line)
        yield options.format(results, sentences, first_line - 1, [line for _, line in chunk]), len(chunk)
        first_line += len(chunk)


def run_job(src, dst, key: dict, resume: bool, produce, progress: Progress) -> None:
    """Write the chunks of `produce(lines_done)` to dst as one resumable, atomic job.

    `produce` gets the number of input lines already done by an interrupted run and
    yields (bytes, line count) for the lines after them.
    """
    job = open_job(dst, key, resume)
    try:
        with progress:
            progress.resumed_at(job.lines_done)
            for data, n_lines in produce(job.lines_done):
                job.write_chunk(data, n_lines)
                progress.advance(n_lines)
    except KeyboardInterrupt:
        job.abort(keep_for_resume=True)
        if str(dst) == "-":
            raise Interrupted(f"interrupted after {job.lines_done} complete lines") from None
        raise Interrupted(f"interrupted after {job.lines_done} complete lines; {dst} was not "
                          "written; rerun with --resume to continue") from None
    except BaseException:
        job.abort(keep_for_resume=False)
        raise
    job.commit()


def translate_stream_file(translator, src, dst, options: FileOptions):
    """Translate src to dst line for line, chunk by chunk; returns the translator's Stats.

    With options.resume a run killed earlier continues after its last completed chunk.
    """
    options.check_paths(src, dst)
    with open_input(src) as fin:
        def produce(lines_done: int):
            records = options.input_format.records(read_lines(fin, str(src), options.errors), str(src))
            # Lines already translated are read again (to find the position) but not translated.
            for _ in itertools.islice(records, lines_done):
                pass
            yield from translated_chunks(translator, records, options, lines_done + 1,
                                         ANSWER_WAIT_S if is_interactive(src) else None)

        run_job(src, dst, options.job_key(translator, src, dst), options.resume, produce,
                Progress.for_input(src, options.progress, count_lines))
    return translator.stats
