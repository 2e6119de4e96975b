"""One file job, local or on Ray: lines read exactly, records in their format, the chunk loop.

Input is split only at b'\n' (CRLF and a BOM removed), so line N stays line N; a record
format says where the sentence sits in a line (text, jsonl, tsv) and how results are
written (text, jsonl, tsv, nbest). Chunks of lines are translated one after another
(`translate_chunk`, the one loop both a local run and a Ray actor call) and written
through the atomic, resumable output job of runtime/files/output.py.
"""

from __future__ import annotations

import contextlib
import gzip
import itertools
import json
import os
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from s2s_batch.runtime.batching import answering_chunks, chunks
from s2s_batch.runtime.errors import InputError, Interrupted
from s2s_batch.runtime.files.output import open_job, progress_record
from s2s_batch.runtime.files.progress import Progress

INPUT_FORMATS = ("text", "jsonl", "tsv")
OUTPUT_FORMATS = ("text", "jsonl", "tsv", "nbest")


@dataclass(frozen=True)
class InputFormat:
    """text: the line is the sentence; jsonl: field `field` of a JSON object;
    tsv: tab-separated column `column` (1-based). A blank line is an empty sentence."""

    kind: str = "text"
    field: str = "text"
    column: int = 1

    def __post_init__(self):
        if self.kind not in INPUT_FORMATS:
            raise ValueError(f"input format must be one of {INPUT_FORMATS}")
        if self.column < 1:
            raise ValueError("column counts from 1")

    def source(self, line: str, number: int, name: str) -> str:
        """The sentence to translate in input line `number` of file `name`."""
        if self.kind == "text":
            return line
        if not line.strip():
            return ""
        if self.kind == "tsv":
            cells = line.split("\t")
            if len(cells) < self.column:
                raise InputError(f"{name}: line {number}: {len(cells)} tab-separated columns, "
                                 f"but --column {self.column} was asked; fix the line or the column")
            return cells[self.column - 1]
        try:
            record = json.loads(line, parse_constant=_not_json, parse_float=_finite_float)
            json.dumps(record, ensure_ascii=False).encode("utf-8")  # no lone surrogate
        except (ValueError, RecursionError) as exc:
            reason = "nested too deep" if isinstance(exc, RecursionError) else str(exc)[:200]
            raise InputError(f"{name}: line {number}: not valid JSON ({reason}); fix the line "
                             "or read the file with --input-format text") from None
        if not isinstance(record, dict) or self.field not in record:
            raise InputError(f"{name}: line {number}: no field {self.field!r} in the JSON object; "
                             "name the field holding the sentence with --field")
        value = record[self.field]
        if value is None:
            return ""
        if not isinstance(value, str):
            raise InputError(f"{name}: line {number}: field {self.field!r} holds "
                             f"{type(value).__name__}, not a string; fix the line or --field")
        return value

    def records(self, lines: Iterable[str], name: str) -> Iterator[tuple[str, str]]:
        """(the sentence, the whole line) of each line, in order: jsonl and tsv output keep
        the line's other fields or columns."""
        for number, line in enumerate(lines, start=1):
            yield self.source(line, number, name), line


def _one_line(text: str) -> str:
    # A tab or line break inside a TSV cell would shift columns or lines.
    return " ".join(text.replace("\t", " ").splitlines()) if text else text


def format_results(results, sources: Sequence[str], output_format: str,
                   with_token_scores: bool, first_id: int = 0, records: Sequence[str] | None = None,
                   input_format: InputFormat = InputFormat(), target_field: str = "translation",
                   with_scores: bool = False) -> bytes:
    """Output lines for translation results, one per source.

    text: the best translation (with `with_scores`, "SCORE ||| TRANSLATION", SCORE its total
    log-probability, 0 for a blank line); tsv: the source, a tab, the best translation;
    jsonl: {"source", "translation", "hypotheses": [{"text", "score"[, "token_scores"]}],
    "pieces", "cropped", "capped"}: the sentences the line was split into (0 when blank),
    whether a piece was cropped at the input limit, and whether a piece's best
    hypothesis stopped at its length cap. With jsonl or tsv input and the same output
    (`records`: the input lines), each line keeps what it had: the JSON object's other
    fields, the translation under `target_field`; the tsv columns, the translation after
    them. nbest: Marian's n-best layout, a line per
    hypothesis, `ID ||| text ||| F0= score ||| score`, ID the line's number from 0
    (`first_id` for the first of `results`); a blank line gets one empty hypothesis, so
    every ID appears.
    """
    if output_format == "text" and with_scores:
        lines = [f"{r.scores[0] if r.scores else 0.0:.6f} ||| {r.best}" for r in results]
    elif output_format == "text":
        lines = [r.best for r in results]
    elif output_format == "tsv":
        keep = records is not None and input_format.kind == "tsv"
        lines = [f"{record if keep and record.strip() else _one_line(s)}\t{r.best}"
                 for s, r, record in zip(sources, results, records or sources)]
    elif output_format == "nbest":
        return "".join(_nbest_lines(results, first_id)).encode("utf-8")
    elif output_format == "jsonl":
        keep = records is not None and input_format.kind == "jsonl"
        # a blank input line keeps the input's own key for its (empty) sentence
        lines = [json.dumps({**(json.loads(record) if keep and record.strip()
                                else {input_format.field if keep else "source": s}),
                             target_field: r.best, "hypotheses": [
            {"text": text, "score": round(score, 6),
             **({"token_scores": [round(x, 6) for x in tokens]} if with_token_scores else {}),
             **({"attention": [[round(x, 4) for x in row] for row in weights]} if weights else {})}
            for text, score, tokens, weights in zip(r.hypotheses, r.scores, r.token_scores,
                                                    r.attention or [[]] * len(r.hypotheses))],
            "pieces": r.pieces, "cropped": r.cropped, "capped": r.capped},
            ensure_ascii=False) for s, r, record in zip(sources, results, records or sources)]
    else:
        raise ValueError(f"output format must be one of {OUTPUT_FORMATS}")
    return "".join(line + "\n" for line in lines).encode("utf-8")


def _nbest_lines(results, first_id: int) -> Iterator[str]:
    for number, r in enumerate(results, start=first_id):
        if not r.hypotheses:
            yield f"{number} |||  ||| F0= 0.000000 ||| 0.000000\n"
        for text, score in zip(r.hypotheses, r.scores):
            yield f"{number} ||| {_one_line(text)} ||| F0= {score:.6f} ||| {score:.6f}\n"


def read_nbest(text: str, lines: int) -> list[list[str]]:
    """Each line's hypotheses, best first, from the nbest layout that format_results writes
    (`ID ||| text ||| F0= score ||| score`; a blank line's one empty hypothesis reads as "").
    The text is taken between the first separator and the last two, so a hypothesis that
    holds " ||| " stays whole."""
    hypotheses: list[list[str]] = [[] for _ in range(lines)]
    for row in text.splitlines():
        number, rest = row.split(" ||| ", 1)
        hypotheses[int(number)].append(rest.rsplit(" ||| ", 2)[0].strip())
    return hypotheses


def _not_json(constant: str):
    """Python's json reads NaN and Infinity, which JSON has not: refuse them, so that no
    output line carries them either."""
    raise ValueError(f"{constant} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{text} does not fit a double")
    return value


if TYPE_CHECKING:  # options.py reads this module's formats
    from s2s_batch.runtime.files.options import FileOptions

T = TypeVar("T")
# Interactive input: lines that come within this of each other are translated together.
ANSWER_WAIT_S = 0.05
_BOM = b"\xef\xbb\xbf"


# A text line is read at most this many bytes per source token the translator reads
# (--max-input-length): 256 KiB at the default 1,024, hundreds of sentences beyond any
# real line, so that one huge line costs bounded memory (issue 31: a 100 MB line took
# 4.6 GB). The rest of such a line is skipped, never held.
BYTES_PER_INPUT_TOKEN = 256
READ_BLOCK = 1 << 20


class CroppedLine(str):
    """A line cut at the reader's byte limit: its translation is reported cropped (and
    with --long-inputs empty, left empty), as a sentence past --max-input-length is."""


def line_byte_limit(translator, input_format: InputFormat) -> int | None:
    """The bytes read of each line: text lines by the translator's input limit; jsonl and
    tsv lines whole (a cut record could not be parsed); None: no limit."""
    limit = translator.input_limit
    return limit * BYTES_PER_INPUT_TOKEN if limit and input_format.kind == "text" else None


def read_lines(stream, name: str, errors: str = "strict", max_line_bytes: int | None = None) -> Iterator[str]:
    """Decoded lines of a binary stream, split only at b'\n'.

    CRLF and a leading UTF-8 BOM are removed. Splitting at bytes (not str.splitlines)
    keeps other Unicode line breaks inside their line, so line N stays line N. A line
    longer than `max_line_bytes` is kept that far (whole characters) as a CroppedLine.
    """
    offset = 0
    for number, (raw, length) in enumerate(_raw_lines(stream, name, max_line_bytes), start=1):
        cut = length > len(raw)
        body = raw[:-1] if raw.endswith(b"\n") else raw
        if body.endswith(b"\r") and not cut:
            body = body[:-1]
        start = offset
        if number == 1 and body.startswith(_BOM):
            body, start = body[len(_BOM):], offset + len(_BOM)
        if cut:
            body = _whole_characters(body)
        try:
            text = body.decode("utf-8", errors=errors)
        except UnicodeDecodeError as exc:
            raise InputError(f"{name}: line {number}: invalid UTF-8 at file byte offset {start + exc.start}; "
                             "fix the file or pass --errors replace") from None
        yield CroppedLine(text) if cut else text
        offset += length


def _whole_characters(data: bytes) -> bytes:
    """`data` without a UTF-8 character cut off at its end."""
    for back in range(1, min(4, len(data)) + 1):
        byte = data[-back]
        if byte & 0xC0 != 0x80:  # the last character's first byte
            size = 1 if byte < 0x80 else 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return data if size <= back else data[:-back]
    return data


def split_lines(read, limit: int | None = None) -> Iterator[tuple[bytes, int]]:
    """(the line's bytes, with its b'\n', or its first `limit` bytes; its whole length in
    bytes) for each line of a stream read by `read(n)` in blocks: a line is never held
    longer than `limit`, however long it is."""
    kept: list[bytes] = []
    held = length = 0  # of the line under way

    def take(part: bytes) -> None:
        nonlocal held, length
        if limit is None or held < limit:
            piece = part if limit is None else part[: limit - held]
            kept.append(piece)
            held += len(piece)
        length += len(part)

    while block := read(READ_BLOCK):
        *ended, rest = block.split(b"\n")
        for part in ended:
            take(part + b"\n")
            yield b"".join(kept), length
            kept.clear()
            held = length = 0
        take(rest)
    if length:
        yield b"".join(kept), length


def _raw_lines(stream, name: str, limit: int | None = None) -> Iterator[tuple[bytes, int]]:
    read = getattr(stream, "read1", None) or stream.read  # read1: a typed line is answered at once
    try:
        yield from split_lines(read, limit)
    except (OSError, EOFError, zlib.error) as exc:  # a corrupt or truncated .gz file
        raise InputError(f"{name}: cannot read input ({exc}); check that the file is "
                         "complete (a .gz name means gzip)") from None


def is_gzip_path(path) -> bool:
    """Whether a path is read or written through gzip (by its .gz extension)."""
    return str(path).endswith(".gz")


def _open_binary(path):
    return gzip.open(path, "rb") if is_gzip_path(path) else open(path, "rb")


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


@dataclass
class NotableLines:
    """The first few line numbers (from 1) of the lines split, cropped and capped."""

    split: list[int] = field(default_factory=list)
    cropped: list[int] = field(default_factory=list)
    capped: list[int] = field(default_factory=list)
    keep: int = 5

    def note(self, results: list, first_line: int) -> None:
        """Record the lines among `results` (line numbers from `first_line`)."""
        for number, result in enumerate(results, start=first_line):
            for name, flag in (("split", result.pieces > 1), ("cropped", result.cropped),
                               ("capped", result.capped)):
                seen = getattr(self, name)
                if flag and len(seen) < self.keep:
                    seen.append(number)

    def report(self, stats, long_inputs: str, input_limit: int | None, quiet: bool = False) -> list[str]:
        """The end-of-run lines naming the first lines cropped (always) and capped (unless
        quiet), with a run's Stats for the totals."""
        lines = []
        if stats.truncated_lines:
            action = "cropped" if long_inputs == "crop" else "left untranslated (empty)"
            lines.append(f"s2s-batch: {stats.truncated_lines} lines had a sentence longer than {input_limit} "
                         f"source tokens, {action}{_first(self.cropped, stats.truncated_lines)}")
        if stats.capped_lines and not quiet:
            lines.append(f"s2s-batch: {stats.capped_lines} lines stopped at their length cap before "
                         f"<eos>{_first(self.capped, stats.capped_lines)}")
        return lines

    def merge(self, split: list[int], cropped: list[int], capped: list[int]) -> None:
        """Add a later chunk's notable lines (a Ray block's), keeping the first few."""
        for name, numbers in (("split", split), ("cropped", cropped), ("capped", capped)):
            seen = getattr(self, name)
            seen += numbers[: max(0, self.keep - len(seen))]


def _first(numbers: list[int], total: int) -> str:
    if not numbers:
        return ""
    more = ", ..." if total > len(numbers) else ""
    return f" (line{'s' if total > 1 else ''} {', '.join(map(str, numbers))}{more})"


def translated_chunks(translator, records: Iterator[tuple[str, str]], options: FileOptions,
                      first_line: int = 1, answer_wait: float | None = None,
                      notable: NotableLines | None = None,
                      progress: Progress | None = None) -> Iterator[tuple[bytes, int]]:
    """(output bytes, line count) for each chunk of (sentence, input line) records,
    translated here; with `answer_wait`, a chunk is cut short when no line has come for
    that many seconds. A line's sentences are split inside its chunk, so its pieces never
    straddle two. `progress` is moved through each chunk as its batches finish."""
    grouped = (chunks(records, options.chunk_lines) if answer_wait is None
               else answering_chunks(records, options.chunk_lines, answer_wait))
    for chunk in grouped:
        within = None
        if progress is not None:
            def within(done: int, total: int, lines: int = len(chunk)) -> None:
                progress.within(lines * done / max(total, 1))
        yield translate_chunk(translator, [s for s, _ in chunk], [line for _, line in chunk], first_line,
                              options, notable, within), len(chunk)
        first_line += len(chunk)


def translate_chunk(translator, sentences: list[str], lines: list[str], first_line: int,
                    options: FileOptions, notable: NotableLines | None = None, progress_callback=None) -> bytes:
    """The output bytes of one chunk: its sentences translated, the results formatted with
    their input `lines`, the notable ones noted in `notable` (line numbers from
    `first_line`); `progress_callback` as translate_batch takes it. The one chunk step of
    a local run and of a Ray actor."""
    # A line the reader cut (CroppedLine) is cropped as a sentence past the input limit is.
    cut = [i for i, sentence in enumerate(sentences) if isinstance(sentence, CroppedLine)]
    skipped = set(cut) if translator.long_inputs == "empty" else set()
    to_translate = ["" if i in skipped else sentence for i, sentence in enumerate(sentences)]
    results = translator.translate_batch(to_translate, progress_callback=progress_callback,
                                         **options.search_options())
    for i in cut:
        if not results[i].cropped:
            results[i].cropped = True
            translator.stats.truncated_lines += 1
    if notable is not None:
        notable.note(results, first_line)
    return format_results(results, sentences, options.output_format, options.with_token_scores, first_line - 1,
                          lines, options.input_format, options.target_field, options.text_scores)


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


def unchanged_input(src, chunks: Iterable[tuple[bytes, int]]) -> Iterator[tuple[bytes, int]]:
    """The chunks, each let through only while src is the file it was when they started
    (same inode, size and modification time), and checked once more after the last: an
    input rewritten, truncated or replaced mid-run stops the run (InputError) instead of
    giving a short output. stdin and pipes are not checked."""
    if str(src) == "-" or not os.path.isfile(src):
        yield from chunks
        return
    start = os.stat(src)
    key = (start.st_ino, start.st_size, start.st_mtime_ns)

    def check() -> None:
        now = os.stat(src)
        if (now.st_ino, now.st_size, now.st_mtime_ns) != key:
            raise InputError(f"{src}: changed while it was being translated (rewritten, truncated or "
                             "replaced); the output was not written: rerun once the input is complete")

    for chunk in chunks:
        check()
        yield chunk
    check()


def finished_output(src, dst, output_format: str) -> int | None:
    """The input lines of src when dst already holds a finished run's answer to each (no
    interrupted run's record beside it, written after src changed last, an answer per
    input line: a line, or an n-best ID); None when there is work to do."""
    if str(src) == "-" or str(dst) == "-" or not os.path.isfile(dst) or progress_record(dst).exists():
        return None
    if os.stat(dst).st_mtime_ns < os.stat(src).st_mtime_ns:
        return None
    lines = count_lines(src)
    if output_format == "nbest":
        with _open_binary(dst) as f:
            ids = {line.split(b" ||| ", 1)[0] for line in f}
        return lines if len(ids) == lines else None
    return lines if count_lines(dst) == lines else None


def translate_stream_file(translator, src, dst, options: FileOptions, notable: NotableLines | None = None):
    """Translate src to dst line for line, chunk by chunk; returns the translator's Stats;
    the first lines split, cropped and capped go to `notable`.

    With options.resume a run killed earlier continues after its last completed chunk; a
    dst that a finished run wrote (finished_output) is left as it is, with no work done.
    """
    options.check_paths(src, dst)
    if options.resume and finished_output(src, dst, options.output_format) is not None:
        return translator.stats
    progress = Progress.for_input(src, options.progress, count_lines)
    with open_input(src) as fin:
        def produce(lines_done: int):
            lines = read_lines(fin, str(src), options.errors, line_byte_limit(translator, options.input_format))
            records = options.input_format.records(lines, str(src))
            # Lines already translated are read again (to find the position) but not translated.
            for _ in itertools.islice(records, lines_done):
                pass
            yield from translated_chunks(translator, records, options, lines_done + 1,
                                         ANSWER_WAIT_S if is_interactive(src) else None, notable, progress)

        run_job(src, dst, options.job_key(translator, src, dst), options.resume,
                lambda lines_done: unchanged_input(src, produce(lines_done)), progress)
    return translator.stats

