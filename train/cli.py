"""`s2s-train`: a flag for every field of TrainConfig and ModelConfig."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import click

from s2s_batch.runtime.bundle.config import ModelConfig
from s2s_batch.runtime.errors import S2SError
from s2s_batch.train.config import PRESETS, TrainConfig
from s2s_batch.train.extras import require_train_extra

_DERIVED = {"model", "src_vocab_size", "tgt_vocab_size"}


def _config_options(func):
    """Add one click option per hyperparameter; defaults shown are the default preset's."""
    fields = [*dataclasses.fields(ModelConfig), *dataclasses.fields(TrainConfig)]
    defaults = {**ModelConfig().to_dict(), **TrainConfig().to_dict()}
    types = {"int": int, "float": float, "str": str}  # annotations are strings here
    for f in reversed(fields):
        if f.name in _DERIVED:
            continue
        flag = "--" + f.name.replace("_", "-")
        help_text = f"{f.metadata['help']} [default: {defaults[f.name]}]"
        if f.type == "bool":
            func = click.option(f"{flag}/--no-{flag[2:]}", f.name, default=None, help=help_text)(func)
        else:
            kind = click.Choice(f.metadata["choices"]) if f.metadata.get("choices") else types[f.type]
            func = click.option(flag, f.name, type=kind, default=None, help=help_text)(func)
    return func


@click.command(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="s2s-batch")
@click.option("--data", "data_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="tab-separated English-French corpus, e.g. ../shared/data/fra-eng/fra.txt")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="run folder: checkpoint.pt, best.pt, metrics.jsonl")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="default",
              help="starting recipe; d2l reproduces the notes' run; flags override it")
@click.option("--resume", is_flag=True,
              help="continue from OUT/checkpoint.pt; its config wins, but --epochs, --lr, "
                   "--average-last and --patience, when given, take effect")
@click.option("--init-from", type=click.Path(exists=True, path_type=Path),
              help="start from this checkpoint's (or fp32 GRU bundle folder's) weights, tokenizers "
                   "and vocabularies (same split and tokenizer; new layers, e.g. attention, start fresh)")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu")
@click.option("--threads", type=int, default=0, help="torch CPU threads (0: torch's choice)")
@click.option("--quiet", is_flag=True, help="no progress bar")
@click.option("--data-attribution", default=None,
              help="who made the corpus, recorded in the checkpoint and the bundle [default: the "
                   "'Attribution:' line of an _about.txt beside the corpus, else unknown]")
@click.option("--data-license", default=None,
              help="the corpus's licence, recorded likewise [default: the licence an _about.txt "
                   "beside the corpus links to, else unknown]")
@_config_options
def main(data_path, out_dir, preset, resume, init_from, device, threads, quiet, data_attribution,
         data_license, **overrides):
    """Train a seq2seq model on a tab-separated parallel corpus."""
    require_train_extra("s2s-train")
    import torch

    from s2s_batch.train.config import make_config
    from s2s_batch.train.trainer import RESUME_SETTINGS, train

    if device == "cuda" and not torch.cuda.is_available():
        raise click.UsageError("--device cuda: no CUDA device is visible to torch; use --device cpu")
    if threads:
        torch.set_num_threads(threads)
    try:
        cfg = make_config(preset, **overrides)
        train(cfg, data_path, out_dir, resume=resume, device=device, progress=not quiet,
              log=lambda msg: click.echo(msg, err=True),
              resume_settings={k: overrides[k] for k in RESUME_SETTINGS}, init_from=init_from,
              provenance={"attribution": data_attribution, "license": data_license})
    except (ValueError, FileNotFoundError, S2SError) as exc:  # S2SError: a bad bundle
        click.echo(f"s2s-train: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
