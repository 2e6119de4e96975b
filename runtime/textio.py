"""Line-exact file translation: input read in chunks, output through a resumable job."""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import sys
from pathlib import Path
from typing import Iterator

from s2s_batch.runtime.errors import InputError, Interrupted, UsageError
from s2s_batch.runtime.output import open_job

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


def count_lines(src) -> int:
    """Lines in a file, for the progress bar."""
    with open(src, "rb") as f:
        n, last = 0, b"\n"
        for block in iter(lambda: f.read(1 << 20), b""):
            n += block.count(b"\n")
            last = block[-1:]
        return n + (last != b"\n")


def job_key(translator, src, **options) -> dict:
    """What must not change between a run and its --resume: input, bundle, options."""
    stat = os.stat(src)
    return {"input": str(Path(src).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "bundle": translator.manifest.data["files"], "max_len": translator.max_len, **options}


def format_results(results, output_format: str, with_token_scores: bool) -> bytes:
    """Output lines for translation results: the best text, or one JSON object per line."""
    if output_format == "text":
        lines = [r.best for r in results]
    else:
        lines = [json.dumps({"hypotheses": [
            {"text": text, "score": round(score, 6),
             **({"token_scores": [round(x, 6) for x in tokens]} if with_token_scores else {})}
            for text, score, tokens in zip(r.hypotheses, r.scores, r.token_scores)]},
            ensure_ascii=False) for r in results]
    return "".join(line + "\n" for line in lines).encode("utf-8")


def translate_stream_file(translator, src, dst, *, errors: str = "strict",
                          chunk_lines: int = CHUNK_LINES, progress: bool | None = None,
                          resume: bool = False, output_format: str = "text",
                          decoding: dict | None = None):
    """Translate src to dst line for line, chunk by chunk; returns the translator's Stats.

    With resume=True a run killed earlier continues after its last completed chunk.
    """
    from tqdm import tqdm

    if errors not in ("strict", "replace"):
        raise ValueError("errors must be 'strict' or 'replace'")
    if output_format not in ("text", "jsonl"):
        raise ValueError("output_format must be 'text' or 'jsonl'")
    decoding = dict(decoding or {})
    with_token_scores = bool(decoding.get("return_scores"))
    if output_format == "jsonl":
        decoding["return_scores"] = True  # every jsonl hypothesis carries its total score
    if resume and str(src) == "-":
        raise UsageError("--resume needs an input file, not stdin")
    show = sys.stderr.isatty() if progress is None else progress
    # Counting costs a pass over the file, so only for a bar that will be seen.
    total = count_lines(src) if show and Path(str(src)).is_file() else None
    with open_input(src) as fin:
        key = (job_key(translator, src, errors=errors, output_format=output_format, decoding=decoding)
               if str(dst) != "-" and str(src) != "-" else {})
        job = open_job(dst, key, resume)
        try:
            with tqdm(total=total, unit="line", disable=not show, file=sys.stderr,
                      dynamic_ncols=True) as bar:
                lines = read_lines(fin, str(src), errors)
                # Lines already translated are read again (to find the position) but not translated.
                bar.update(sum(1 for _ in itertools.islice(lines, job.lines_done)))
                for chunk in chunks(lines, chunk_lines):
                    results = translator.translate(chunk, **decoding)
                    job.write_chunk(format_results(results, output_format, with_token_scores), len(chunk))
                    bar.update(len(chunk))
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
    return translator.stats
