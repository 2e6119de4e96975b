"""Line-exact file translation: input read in chunks, output through a resumable job."""

from __future__ import annotations

import contextlib
import gzip
import itertools
import os
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TypeVar

from s2s_batch.runtime.errors import InputError, Interrupted, UsageError
from s2s_batch.runtime.formats import OUTPUT_FORMATS, InputFormat, format_results
from s2s_batch.runtime.output import open_job
from s2s_batch.runtime.progress import Progress

CHUNK_LINES = 10_000
T = TypeVar("T")
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


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
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


def job_key(translator, src, **options) -> dict:
    """What must not change between a run and its --resume: input, bundle, options."""
    stat = os.stat(src)
    return {"input": str(Path(src).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "bundle": translator.manifest.files, "max_len": translator.max_len,
            "split_sentences": translator.splitter is not None,
            "max_input_length": translator.max_input_length, "long_inputs": translator.long_inputs,
            **options}


def translated_chunks(translator, records: Iterator[tuple[str, str]], chunk_lines: int, output_format: str,
                      decoding: dict, with_token_scores: bool, first_line: int = 1,
                      input_format: InputFormat = InputFormat(),
                      target_field: str = "translation") -> Iterator[tuple[bytes, int]]:
    """(output bytes, line count) for each chunk of (sentence, input line) records,
    translated here. A line's sentences are split inside its chunk, so its pieces never
    straddle two."""
    for chunk in chunks(records, chunk_lines):
        sentences = [sentence for sentence, _ in chunk]
        results = translator.translate(sentences, **decoding)
        translator.notable.note(results, first_line)
        yield format_results(results, sentences, output_format, with_token_scores, first_line - 1,
                             [line for _, line in chunk], input_format, target_field), len(chunk)
        first_line += len(chunk)


def output_decoding(decoding: dict | None, output_format: str) -> tuple[dict, bool]:
    """Decoding options for an output format, and whether token scores are written."""
    decoding = dict(decoding or {})
    with_token_scores = bool(decoding.get("return_scores"))
    if output_format in ("jsonl", "nbest"):
        decoding["return_scores"] = True  # every jsonl or n-best hypothesis carries its total score
    return decoding, with_token_scores


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


def check_file_options(src, dst, errors: str, resume: bool, input_format: InputFormat,
                       output_format: str) -> None:
    """Refuse option values that cannot work, before any work starts."""
    if errors not in ("strict", "replace"):
        raise ValueError("errors must be 'strict' or 'replace'")
    if output_format not in OUTPUT_FORMATS:
        raise ValueError(f"output_format must be one of {OUTPUT_FORMATS}")
    if not isinstance(input_format, InputFormat):
        raise ValueError("input_format must be an InputFormat")
    if resume and str(src) == "-":
        raise UsageError("--resume needs an input file, not stdin")


def translate_stream_file(translator, src, dst, *, errors: str = "strict",
                          chunk_lines: int = CHUNK_LINES, progress: bool | None = None,
                          resume: bool = False, output_format: str = "text",
                          input_format: InputFormat = InputFormat(),
                          decoding: dict | None = None, target_field: str = "translation"):
    """Translate src to dst line for line, chunk by chunk; returns the translator's Stats.

    With resume=True a run killed earlier continues after its last completed chunk.
    jsonl output names the translation `target_field`.
    """
    check_file_options(src, dst, errors, resume, input_format, output_format)
    decoding, with_token_scores = output_decoding(decoding, output_format)
    key = (job_key(translator, src, errors=errors, output_format=output_format,
                   input_format=asdict(input_format), decoding=decoding, target_field=target_field)
           if str(dst) != "-" and str(src) != "-" else {})
    with open_input(src) as fin:
        def produce(lines_done: int):
            records = input_format.records(read_lines(fin, str(src), errors), str(src))
            # Lines already translated are read again (to find the position) but not translated.
            for _ in itertools.islice(records, lines_done):
                pass
            yield from translated_chunks(translator, records, chunk_lines, output_format, decoding,
                                         with_token_scores, lines_done + 1, input_format, target_field)

        run_job(src, dst, key, resume, produce, Progress.for_input(src, progress, count_lines))
    return translator.stats
