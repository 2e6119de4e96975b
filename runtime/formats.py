"""Record formats: where the source sentence sits in an input line, how results are written."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from s2s_batch.runtime.errors import InputError

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
        lines = [json.dumps({**(json.loads(record) if keep and record.strip() else {"source": s}),
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
