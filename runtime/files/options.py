"""One options object for a file job: how it reads, writes and searches. The local path
(runtime/files/job.py) and the Ray path (runtime/files/on_ray.py) take the same one."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from s2s_batch.runtime.errors import OptionError, UsageError
from s2s_batch.runtime.files.job import OUTPUT_FORMATS, InputFormat
from s2s_batch.runtime.files.output import check_output
from s2s_batch.runtime.search.options import DecodingOptions

CHUNK_LINES = 10_000


@dataclass(frozen=True)
class FileOptions:
    """How to translate a file.

    Args:
        errors: invalid UTF-8 in the input: "strict" stops with its position, "replace"
            translates it with U+FFFD.
        chunk_lines: lines read, translated and recorded at a time (the resume granularity).
        progress: show a progress bar (None: when stderr is a terminal).
        resume: continue a killed or interrupted run on the same input and output.
        input_format: where the sentence sits in each line (text, jsonl field, tsv column).
        output_format: "text", "jsonl", "tsv" or "nbest" (runtime/files/job.py).
        target_field: jsonl output: the field holding the translation.
        with_scores: text output: each line is "SCORE ||| TRANSLATION", SCORE the best
            hypothesis's score (CTranslate2's with_scores layout); the same as
            decoding's return_scores for text output.
        decoding: DecodingOptions fields (beam_size, length_penalty, ...).
    """

    errors: str = "strict"
    chunk_lines: int = CHUNK_LINES
    progress: bool | None = None
    resume: bool = False
    input_format: InputFormat = InputFormat()
    output_format: str = "text"
    target_field: str = "translation"
    with_scores: bool = False
    decoding: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        if self.errors not in ("strict", "replace"):
            raise OptionError("{errors} must be 'strict' or 'replace'")
        if self.output_format not in OUTPUT_FORMATS:
            raise OptionError(f"{{output_format}} must be one of {OUTPUT_FORMATS}")
        if not isinstance(self.input_format, InputFormat):
            raise OptionError("{input_format} must be an InputFormat")
        if self.chunk_lines < 1:
            raise OptionError("{chunk_lines} must be at least 1")
        if self.with_scores and self.output_format != "text":
            raise OptionError("{with_scores} is for text output; jsonl and nbest carry the scores")
        decoding = DecodingOptions(**self.decoding)  # refuse bad decoding options before any work
        # An option that would change nothing in this output is refused, not ignored.
        if decoding.return_scores and self.output_format == "tsv":
            raise OptionError("{return_scores} writes scores in text, jsonl and nbest output; tsv output has "
                              "no column for them: use {output_format} jsonl")
        if decoding.return_attention and self.output_format != "jsonl":
            raise OptionError("{return_attention}: only jsonl output holds attention weights; add "
                              "{output_format} jsonl")

    @classmethod
    def of(cls, options: dict[str, Any]) -> FileOptions:
        """FileOptions from keyword options: its own fields, and DecodingOptions fields
        (gathered into `decoding`), as Translator.translate_file takes them."""
        own = {f.name for f in fields(cls)}
        decoding = dict(options.get("decoding") or {})
        decoding.update({k: v for k, v in options.items() if k not in own})
        return cls(**{k: v for k, v in options.items() if k in own and k != "decoding"},
                   decoding=decoding)

    def check_paths(self, src, dst) -> None:
        """Refuse a job that cannot work on these paths, before any work starts."""
        if self.resume and str(src) == "-":
            raise UsageError("--resume needs an input file, not stdin")
        check_output(dst, src)

    @property
    def text_scores(self) -> bool:
        """Whether text output writes "SCORE ||| TRANSLATION"."""
        return self.output_format == "text" and (self.with_scores or bool(self.decoding.get("return_scores")))

    @property
    def with_token_scores(self) -> bool:
        """Whether jsonl output carries each token's log-probability."""
        return bool(self.decoding.get("return_scores"))

    def search_options(self) -> dict[str, Any]:
        """The decoding options to search with: every format that writes a score needs
        the hypotheses' scores."""
        if self.output_format in ("jsonl", "nbest") or self.text_scores:
            return {**self.decoding, "return_scores": True}
        return dict(self.decoding)

    def job_key(self, translator, src, dst) -> dict:
        """What must not change between a run and its --resume: the input file, the
        bundle, the translator's and these options ({} when nothing can be resumed)."""
        if str(src) == "-" or str(dst) == "-":
            return {}
        stat = os.stat(src)
        mine = asdict(self)
        for name in ("progress", "resume", "chunk_lines"):  # free to change on resume
            mine.pop(name)
        # Threads and batching never change a translation: free to change on resume too.
        settings = {k: v for k, v in translator.settings().items()
                    if k not in ("threads", "inter_threads", "batch_size", "batch_type")}
        settings.pop("ensemble", None)  # its bundles' checksums instead of their paths
        ensemble = [m.files for m in translator.ensemble_manifests]
        return {"input": str(Path(src).resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                "bundle": translator.manifest.files, **({"ensemble": ensemble} if ensemble else {}),
                "translator": settings, **mine}
