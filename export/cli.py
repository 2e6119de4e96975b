"""`s2s-export CHECKPOINT -o BUNDLE_DIR`."""

from __future__ import annotations

import sys
from pathlib import Path

import click


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("checkpoint", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              required=True, help="bundle folder to write (replaced if it exists)")
def main(checkpoint: Path, out_dir: Path):
    """Export a training checkpoint to a verified model bundle."""
    from s2s_batch.export.bundle import write_bundle
    from s2s_batch.export.verify import ParityError
    from s2s_batch.train.checkpoint import load_checkpoint

    try:
        net, cfg, src_vocab, tgt_vocab, payload = load_checkpoint(checkpoint)
        manifest = write_bundle(net, cfg, src_vocab, tgt_vocab, payload, out_dir)
    except (ParityError, ValueError) as exc:
        click.echo(f"s2s-export: {exc}", err=True)
        sys.exit(4)
    size = sum(p.stat().st_size for p in out_dir.iterdir())
    click.echo(f"wrote {out_dir} ({size / 1e6:.1f} MB, parity {manifest['metrics']['parity_max_abs_diff']:.2g}, "
               f"dev BLEU {manifest['metrics']['dev_bleu']})", err=True)


if __name__ == "__main__":
    main()
