"""`s2s-export CHECKPOINT -o BUNDLE_DIR`."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import click

from s2s_batch.runtime.bundle.manifest import EXTRA_COMPUTE_TYPES, LOWER_PRECISIONS, WEIGHT_STORAGES


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="s2s-batch")
@click.argument("checkpoint", type=click.Path(exists=True, path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="bundle folder to write (replaced if it exists)")
@click.option("--quantize", type=click.Choice(["none", *LOWER_PRECISIONS]), default="none", show_default=True,
              help="int8: dynamic quantization of the MatMul and embedding weights (smaller: 8.6 "
                   "against 27.9 MB for the default; slower than the prescored fp32 bundle on the "
                   "CPUs measured, bench/RESULTS.md); fp16: half-precision weights and arithmetic, "
                   "for --device cuda (bench/RESULTS.md)")
@click.option("--shortlist/--no-shortlist", default=True, show_default=True,
              help="ship the lexical table for `s2s-batch translate --shortlist` (fp32 bundles)")
@click.option("--prescore/--no-prescore", default=True, show_default=True,
              help="give the decoder step the exact int8-prescored greedy argmax (fp32 bundles; "
                   "same words, faster on CPU)")
@click.option("--device", "devices", type=click.Choice(["cpu", "cuda"]), multiple=True, default=("cpu",),
              show_default=True,
              help="where the bundle will run; cuda adds the decoder loop step without branches "
                   "that `s2s-batch translate --device cuda` runs in CUDA graphs (+17 MB for the "
                   "default; repeat the option for both)")
@click.option("--compute-type", "compute_types", type=click.Choice(EXTRA_COMPUTE_TYPES), multiple=True,
              help="also write the graphs of this compute type, which Translator(compute_type=...) "
                   "and `s2s-batch translate --compute-type` pick: int8 runs every matmul of the "
                   "decoder step in int8 on CPU (+4.3 MB for the default; with --data, each "
                   "type's dev BLEU is recorded for compute_type auto)")
@click.option("--weight-storage", type=click.Choice(WEIGHT_STORAGES), default="float32", show_default=True,
              help="float16: round the model's weights to float16 and store them so (the fp32 "
                   "graphs' files halve: 13.2 against 24.3 MB, the default bundle 23.1 against 34.2); they are "
                   "widened to float32 when a session loads, and the bundle is token-exact to the "
                   "rounded model (fp32 bundles)")
@click.option("--data", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="training corpus: learn the lexical table and the casing tables from the "
                   "checkpoint's training split, for checkpoints written before s2s-train stored them; "
                   "with --compute-type, score each type on its dev split")
def main(checkpoint: Path, out_dir: Path, quantize: str, shortlist: bool, prescore: bool,
         devices: tuple[str, ...], compute_types: tuple[str, ...], weight_storage: str, data: Path | None):
    """Export a training checkpoint to a verified model bundle.

    CHECKPOINT may also be a bundle folder (fp32 unidirectional GRU, the seed's fixed context
    or dot/general attention after the cell, such as the shipped default): its model is
    exported again, with other options (--quantize int8, --no-prescore, ...), without the
    training run that made it."""
    if weight_storage != "float32" and quantize != "none":
        raise click.UsageError(f"--weight-storage {weight_storage} stores an fp32 bundle's weights; drop "
                               f"--quantize {quantize}, or --weight-storage")
    from s2s_batch.train.extras import require_train_extra

    require_train_extra("s2s-export")
    from s2s_batch.export.bundle import write_bundle
    from s2s_batch.export.bundle_weights import load_checkpoint_or_bundle
    from s2s_batch.export.compute_types import add_compute_types
    from s2s_batch.export.verify import ParityError
    from s2s_batch.runtime.errors import BundleError
    from s2s_batch.train.data import read_pairs
    from s2s_batch.train.lexicon import build_lexical_table, lexicon_from_payload
    from s2s_batch.train.trainer import prepare, source_casing_for, truecasing_for

    if checkpoint.is_file() and not zipfile.is_zipfile(checkpoint):
        click.echo(f"s2s-export: {checkpoint}: neither a checkpoint nor a bundle folder; pass a "
                   "checkpoint.pt, best.pt or averaged.pt from s2s-train, or a folder written by "
                   "s2s-export", err=True)
        sys.exit(4)
    try:
        net, cfg, src_vocab, tgt_vocab, payload = load_checkpoint_or_bundle(checkpoint)
        lexicon = lexicon_from_payload(payload) if shortlist else None
        truecase = payload.get("truecase")
        if data is not None and shortlist and lexicon is None:
            lexicon = build_lexical_table(prepare(cfg, data, payload.get("spm_models")).train_pairs,
                                          src_vocab, tgt_vocab)
        if data is not None and (truecase is None or "source_case" not in payload):
            raw = read_pairs(data)  # the tables read the corpus's text only: no distillation
            truecase = truecase if truecase is not None else truecasing_for(cfg, raw)
            payload.setdefault("source_case", source_casing_for(cfg, raw))
        manifest = write_bundle(net, cfg, src_vocab, tgt_vocab, payload, out_dir, quantize, lexicon,
                                truecase, prescore=prescore, shortlist=shortlist, loop="cuda" in devices,
                                weight_storage=weight_storage)
        if compute_types:
            manifest["compute_types"] = add_compute_types(out_dir, list(compute_types), data)
    except (ParityError, BundleError, ValueError, FileNotFoundError) as exc:
        click.echo(f"s2s-export: {exc}", err=True)
        sys.exit(4)
    size = sum(p.stat().st_size for p in out_dir.iterdir())
    metrics = manifest["metrics"]
    extra = (f", {quantize} vs fp32: logits within {metrics[f'{quantize}_max_logit_diff']}, argmax "
             f"agreement {metrics[f'{quantize}_argmax_agreement']:.1%}" if quantize != "none" else "")
    extra += "".join(f", {name} dev BLEU {spec['dev_bleu']}" for name, spec in manifest.get("compute_types", {}).items()
                     if spec.get("dev_bleu") is not None)
    table = "with" if "shortlist" in manifest else "without"
    stored = ", weights stored in float16" if manifest.get("weight_storage") == "float16" else ""
    click.echo(f"wrote {out_dir} ({size / 1e6:.1f} MB, {manifest['precision']}{stored}, {table} shortlist "
               f"table, parity {metrics['parity_max_abs_diff']:.2g}, dev BLEU {metrics['dev_bleu']}{extra})",
               err=True)


if __name__ == "__main__":
    main()
