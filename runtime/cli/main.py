"""`s2s-batch`: translate, evaluate and info, each a thin layer over the library."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import click

from s2s_batch.runtime.batching import DEFAULT_BATCH_SIZE, DEFAULT_BATCH_TOKENS, DEFAULT_MAX_INPUT_LENGTH
from s2s_batch.runtime.bundle.compute_type import COMPUTE_TYPES
from s2s_batch.runtime.cli.config_file import MAX_THREADS
from s2s_batch.runtime.errors import OptionError, S2SError, UsageError
from s2s_batch.runtime.files.job import NotableLines, translate_stream_file
from s2s_batch.runtime.files.options import CHUNK_LINES
from s2s_batch.runtime.files.scoring import SCORE_FORMATS
from s2s_batch.runtime.search.options import DecodingOptions

_DEFAULTS = DecodingOptions()  # the library's defaults are the CLI's
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a tool killed by it


def _say(message: str) -> None:
    """A line on stderr; a full or closed stderr loses it rather than end in a traceback
    (the exit code still says what happened)."""
    try:
        click.echo(message, err=True)
    except (OSError, ValueError, AttributeError):
        pass


def _user_errors(func):
    """Turn S2SError into one line on stderr and its exit code; Ctrl-C into exit 130."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except S2SError as exc:
            _say(f"s2s-batch: error: {exc}")
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            _say("s2s-batch: interrupted")
            sys.exit(EXIT_INTERRUPTED)
        except BrokenPipeError:
            # The reader of stdout went away (`| head`): stop quietly, as Unix tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(EXIT_BROKEN_PIPE)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="s2s-batch")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), default=None,
              envvar="S2S_CONFIG", show_envvar=True,
              help="TOML file of option defaults [default: ./s2s-batch.toml if it exists]")
@click.pass_context
@_user_errors
def main(ctx, config_path):
    """Batch translation with an exported seq2seq model on onnxruntime.

    Option defaults come from the command line, then the environment, then the config
    file (top-level keys for every command, or a [translate] table), then built-in values.
    """
    from s2s_batch.runtime.cli.config_file import find_config, load_defaults

    path = find_config(config_path)
    if path is not None:
        ctx.default_map = load_defaults(path, main.commands)


_bundle_option = click.option(
    "--bundle", type=click.Path(path_type=Path), default=None, envvar="S2S_BUNDLE", show_envvar=True,
    help="model bundle folder (default: the shipped models/fra-eng)")
_compute_type_option = click.option(
    "--compute-type", type=click.Choice(COMPUTE_TYPES), default="default", show_default=True, envvar="S2S_COMPUTE_TYPE",
    help="default: the bundle's own (float32, exact, for the shipped default); int8: every matmul of the "
         "decoder step in int8 on CPU (bundles with int8 graphs; faster, about 5% of lines differ); auto: "
         "int8 where its dev BLEU is within 0.3 of float32; see docs/cli.md")


def _decoding_flags(command: click.decorators.FC) -> click.decorators.FC:
    """The DecodingOptions fields as click options, from each field's own help, flags,
    lowest value or choices (search/options.py): one source for name, type, default and help."""
    for f in reversed(_DECODING):
        meta, default = f.metadata, f.default
        kind = type(default) if default is not None else int
        param_type: Any
        if meta["choices"]:
            param_type = click.Choice(meta["choices"])
        elif kind is bool:
            param_type = None
        elif kind is int:
            param_type = click.IntRange(min=meta["low"])
        else:
            param_type = click.FloatRange(min=meta["low"]) if meta["low"] is not None else float
        extra: dict[str, Any] = {"is_flag": True} if kind is bool and "/" not in _flags_of(f)[0] else {}
        command = click.option(*_flags_of(f), _param_of(f), type=param_type, default=default,
                               show_default=default is not None, help=meta["help"], **extra)(command)
    return command


def _flags_of(f) -> tuple[str, ...]:
    return f.metadata["flags"] or ("--" + f.name.replace("_", "-"),)


def _param_of(f) -> str:
    """The click parameter (and config file key) of a field: its first flag's name."""
    return _flags_of(f)[0].split("/")[0].lstrip("-").replace("-", "_")


_DECODING = [f for f in dataclasses.fields(DecodingOptions) if "help" in f.metadata]
# Each option's field name as the translate command spells it, for its errors.
_SPELLING = {f.name: _flags_of(f)[0].split("/")[0] for f in _DECODING} | {
    "with_scores": "--return-scores", "output_format": "--output-format", "chunk_lines": "--chunk-lines",
    "errors": "--errors", "input_format": "--input-format"}


@main.command()
@click.argument("input_path", metavar="INPUT", default="-")
@click.option("-o", "--output", default="-", help="output file ('-': stdout); written whole or not at all")
@click.option("--bundle", "bundles", type=click.Path(path_type=Path), multiple=True, envvar="S2S_BUNDLE",
              show_envvar=True, help="model bundle folder (default: the shipped models/fra-eng); give it "
                                     "again for an ensemble: the bundles' log-probabilities are averaged at "
                                     "each step (they must share tokenizers and vocabularies)")
@click.option("--device", type=click.Choice(["cpu", "cuda", "auto"]), default="cpu", envvar="S2S_DEVICE",
              show_envvar=True)
@click.option("--batch-size", type=click.IntRange(min=1), default=None,
              help=f"sentences per batch [default: {DEFAULT_BATCH_SIZE}], or padded source tokens with "
                   f"--batch-type tokens [default: {DEFAULT_BATCH_TOKENS}]")
@click.option("--batch-type", type=click.Choice(["examples", "tokens"]), default="examples",
              help="what --batch-size counts: sentences, or padded source tokens (a token budget)")
@click.option("--max-batch-tokens", type=click.IntRange(min=1), default=None,
              help="same as --batch-type tokens --batch-size N")
@click.option("--max-input-length", type=click.IntRange(min=0), default=DEFAULT_MAX_INPUT_LENGTH, show_default=True,
              help="source tokens read per sentence (0: no limit); see --long-inputs")
@click.option("--long-inputs", type=click.Choice(["crop", "empty"]), default="crop", show_default=True,
              help="a sentence past --max-input-length: translate its first tokens, or give an "
                   "empty translation")
@click.option("--split-sentences/--no-split-sentences", default=True, show_default=True,
              help="translate each sentence of a line on its own and join them into one output "
                   "line")
@click.option("--errors", type=click.Choice(["strict", "replace"]), default="strict",
              help="invalid UTF-8: stop with its position, or translate with U+FFFD")
@click.option("--threads", type=click.IntRange(min=0, max=MAX_THREADS), default=0,
              help="CPU threads in all (0: the CPU quota of this container); with --ray, per actor")
@click.option("--inter-threads", type=click.IntRange(min=0, max=MAX_THREADS), default=0,
              help="batches decoded at once, each on threads/inter-threads onnxruntime threads "
                   "(0: one per thread on CPU, 1 on CUDA)")
@click.option("--resume", is_flag=True,
              help="continue a killed or interrupted run on the same INPUT and OUTPUT")
@click.option("--chunk-lines", type=click.IntRange(min=1), default=CHUNK_LINES,
              help="lines read, translated and recorded at a time (the resume granularity)")
@click.option("--input-format", type=click.Choice(["text", "jsonl", "tsv"]), default="text",
              help="text: a sentence per line; jsonl: a JSON object per line (--field); "
                   "tsv: tab-separated columns (--column) [default: by INPUT's name: .jsonl and "
                   ".tsv (also .gz), else text]")
@click.option("--field", default="text", help="jsonl input: the field holding the sentence")
@click.option("--column", type=click.IntRange(min=1), default=1,
              help="tsv input: the column holding the sentence, counting from 1")
@click.option("--output-format", type=click.Choice(["text", "jsonl", "tsv", "nbest"]), default="text",
              help="text: the best translation; tsv: source<TAB>translation; "
                   "jsonl: source, translation and the hypotheses with their scores; "
                   "nbest: Marian's 'ID ||| text ||| F0= score ||| score', a line per hypothesis")
@click.option("--target-field", default="translation", show_default=True,
              help="jsonl output: the field holding the translation (with jsonl input, beside the "
                   "input object's own fields)")
@click.option("--with-scores", is_flag=True, hidden=True,
              help="the old name of --return-scores (text output: 'SCORE ||| TRANSLATION')")
@click.option("--shortlist", is_flag=True,
              help="greedy search: choose among each batch's vocabulary shortlist (faster with "
                   "large target vocabularies; about 1% of sentences change, bench/RESULTS.md)")
@click.option("--no-truecase", is_flag=True,
              help="word-level bundles: write the model's lowercase words, not truecased text")
@click.option("--no-prescore", is_flag=True,
              help="greedy search on CPU: take each argmax from the full fp32 output layer, not "
                   "through the bundle's int8 prescoring (same words, slower; for measuring)")
@_compute_type_option
@click.option("--ray", "ray_address", is_flag=False, flag_value="local", default=None,
              metavar="[ADDRESS]",
              help="translate on Ray actors: the cluster at ADDRESS (HOST:PORT), or a new local "
                   "Ray instance when no ADDRESS is given (from the clone: pip install '.[ray]')")
@click.option("--ray-actors", type=click.IntRange(min=1), default=None,
              help="Ray actors, each holding one onnxruntime session [default: one per CPU "
                   "of the cluster]")
@click.option("-q", "--quiet", is_flag=True, help="no progress and no summary")
@_decoding_flags
@_user_errors
def translate(input_path, output, bundles, ray_address, ray_actors, quiet, **flags):
    """Translate INPUT (a file, or '-' for stdin), one output line per input line.

    A path ending in .gz is read or written through gzip. From a pipe or a terminal,
    each line is answered as soon as it is translated.
    """
    from s2s_batch.runtime.files.job import InputFormat
    from s2s_batch.runtime.files.options import FileOptions
    from s2s_batch.runtime.translator import Translator

    if ray_actors and not ray_address:
        raise UsageError("--ray-actors needs --ray; add --ray [ADDRESS]")
    if ray_address and len(bundles) > 1:
        from s2s_batch.runtime.bundle.ensemble import ENSEMBLE_ON_RAY

        raise UsageError(ENSEMBLE_ON_RAY)
    decoding = {f.name: flags.pop(_param_of(f)) for f in _DECODING}
    if flags.pop("with_scores"):
        _say("s2s-batch: --with-scores is now --return-scores (the one flag for scores in every output format)")
        decoding["return_scores"] = True
    given = _given(click.get_current_context())
    kind = flags.pop("input_format")
    if "input_format" not in given:
        kind = _input_format_by_name(input_path, quiet)
    input_format = InputFormat(kind, flags.pop("field"), flags.pop("column"))
    _refuse_inert_flags(given, input_format.kind, flags["output_format"])
    try:
        options = FileOptions(errors=flags.pop("errors"), resume=flags.pop("resume"),
                              chunk_lines=flags.pop("chunk_lines"), progress=False if quiet else None,
                              output_format=flags.pop("output_format"), input_format=input_format,
                              target_field=flags.pop("target_field"), decoding=decoding)
    except OptionError as exc:
        raise UsageError(f"{exc.spelled(_SPELLING)}; see s2s-batch translate --help") from None
    if input_path == "-" and not quiet and _is_terminal(sys.stdin):
        _say("s2s-batch: reading standard input: type lines, end with Ctrl-D (or pass a file)")
    if options.resume:
        from s2s_batch.runtime.files.job import finished_output

        done = finished_output(input_path, output, options.output_format)
        if done is not None:
            _say(f"s2s-batch: {output} already answers all {done:,} lines of {input_path}: nothing to "
                 "resume (run without --resume to translate it again)")
            return
    translator = Translator(bundles[0] if bundles else None, ensemble=bundles[1:],
                            **_translator_settings(flags))
    start = time.perf_counter()
    notable = NotableLines()
    if ray_address:
        from s2s_batch.runtime.files.on_ray import require_ray, translate_file_on_ray

        require_ray()
        stats = translate_file_on_ray(translator, input_path, output, options, actors=ray_actors,
                                      address=None if ray_address == "local" else ray_address,
                                      threads=flags["threads"] or 1, notable=notable)
    else:
        stats = translate_stream_file(translator, input_path, output, options, notable)
    if not quiet:
        _say(stats.summary(time.perf_counter() - start))
    for message in notable.report(stats, translator.long_inputs, translator.input_limit, quiet):
        _say(message)


def _given(ctx: click.Context) -> set[str]:
    """The parameters set on the command line or in the environment, not by a default."""
    from click.core import ParameterSource

    return {name for name in ctx.params
            if ctx.get_parameter_source(name) in (ParameterSource.COMMANDLINE, ParameterSource.ENVIRONMENT)}


def _input_format_by_name(input_path: str, quiet: bool) -> str:
    """The input format INPUT's name says (.jsonl, .tsv, also under .gz), with a notice;
    text otherwise."""
    name = Path(input_path).name.lower().removesuffix(".gz")
    kind = next((k for k in ("jsonl", "tsv") if name.endswith("." + k)), "text")
    if kind != "text" and not quiet:
        _say(f"s2s-batch: reading {input_path} as {kind} (by its name; --input-format text reads "
             "each line whole)")
    return kind


def _refuse_inert_flags(given: set[str], input_format: str, output_format: str) -> None:
    """A flag that would do nothing with these formats is refused, not ignored."""
    for flag, needs, kind, which in (("field", "jsonl", input_format, "input"),
                                     ("column", "tsv", input_format, "input"),
                                     ("target_field", "jsonl", output_format, "output")):
        if flag in given and kind != needs:
            raise UsageError(f"--{flag.replace('_', '-')} is for {needs} {which}, and the {which} is "
                             f"{kind}; add --{which}-format {needs} or drop it")


def _is_terminal(stream) -> bool:
    try:
        return stream is not None and stream.isatty()
    except (ValueError, AttributeError):
        return False


def _translator_settings(flags: dict) -> dict:
    """Translator keyword arguments from the translate command's remaining flags."""
    batch_type, batch_size = flags["batch_type"], flags["batch_size"]
    if flags["max_batch_tokens"]:
        if batch_size and batch_type == "examples":
            raise UsageError("--max-batch-tokens and --batch-size (sentences) disagree; give one")
        batch_type, batch_size = "tokens", flags["max_batch_tokens"]
    default_size = DEFAULT_BATCH_TOKENS if batch_type == "tokens" else DEFAULT_BATCH_SIZE
    return dict(device=flags["device"], batch_size=batch_size or default_size, batch_type=batch_type,
                threads=flags["threads"] or None,
                inter_threads=flags["inter_threads"] or None, shortlist=flags["shortlist"],
                truecase=not flags["no_truecase"], prescore=not flags["no_prescore"],
                split_sentences=flags["split_sentences"], max_input_length=flags["max_input_length"],
                long_inputs=flags["long_inputs"], compute_type=flags["compute_type"])


@main.command()
@click.argument("hyp", type=click.Path(dir_okay=False))
@click.option("--ref", "refs", multiple=True, required=True, type=click.Path(dir_okay=False),
              help="reference file, line-aligned with HYP; repeat for several references "
                   "(an empty line: no reference in this file for that sentence)")
@click.option("--json", "as_json", is_flag=True, help="print one JSON object")
@_user_errors
def evaluate(hyp, refs, as_json):
    """Corpus BLEU and chrF (sacreBLEU, multi-reference) and the seed's mean sentence BLEU."""
    from s2s_batch.runtime.evaluation import evaluate as evaluate_lines
    from s2s_batch.runtime.files.scoring import read_text_lines

    scores = evaluate_lines(read_text_lines(hyp), [read_text_lines(r) for r in refs], refs, hyp)
    click.echo(json.dumps(scores.as_json()) if as_json else "\n".join(scores.lines()))


@main.command()
@click.argument("src_path", metavar="SRC")
@click.argument("tgt_path", metavar="TGT")
@click.option("-o", "--output", default="-", help="output file ('-': stdout)")
@_bundle_option
@_compute_type_option
@click.option("--output-format", type=click.Choice(SCORE_FORMATS), default="text",
              help="text: each pair's total log-probability; jsonl: its tokens and their "
                   "log-probabilities too")
@_user_errors
def score(src_path, tgt_path, output, bundle, compute_type, output_format):
    """Score each line of TGT as a translation of the same line of SRC: its log-probability
    under the model, by forced decoding (Translator.score_batch). A blank pair scores 0."""
    from s2s_batch.runtime.files.scoring import score_files
    from s2s_batch.runtime.translator import Translator

    with Translator(bundle, compute_type=compute_type) as translator:
        score_files(translator, src_path, tgt_path, output, output_format)


@main.command()
@click.argument("sentence")
@_bundle_option
@click.option("--png", type=click.Path(dir_okay=False), default=None,
              help="also draw the attention heatmap to this PNG file (needs matplotlib)")
@click.option("--beam-size", type=click.IntRange(min=1), default=1, help="1: greedy search")
@_user_errors
def explain(sentence, bundle, png, beam_size):
    """Translate SENTENCE and show where the model looked: for each output token, the
    source words with the highest attention weights (models with attention only)."""
    from s2s_batch.runtime.cli.plots import attention_heatmap
    from s2s_batch.runtime.explain import explain as explain_sentence
    from s2s_batch.runtime.translator import Translator

    explanation = explain_sentence(Translator(bundle, threads=1), sentence, beam_size)
    click.echo("\n".join(explanation.lines()))
    if png:
        attention_heatmap(explanation.source, explanation.target, explanation.attention, Path(png))
        _say(f"s2s-batch: heatmap written to {png}")


@main.command()
@_bundle_option
@_user_errors
def info(bundle):
    """Describe a bundle: model, vocabularies, recipe, scores, data attribution."""
    from s2s_batch.runtime.bundle.info import describe_bundle
    from s2s_batch.runtime.bundle.manifest import load_manifest
    from s2s_batch.runtime.translator import default_bundle_dir

    click.echo("\n".join(describe_bundle(load_manifest(bundle or default_bundle_dir()))))


if __name__ == "__main__":
    main()
