"""Add the graphs of another compute type to a bundle, with the dev BLEU of each type:

    python -m s2s_batch.export.compute_types BUNDLE_DIR --add int8 [--data fra.txt]

`s2s-export --compute-type int8` does the same for the bundle it writes. The bundle's own
graphs are left as they are; the new graphs (encoder.int8.onnx, export/int8_encoder.py;
decoder_step.int8.onnx, export/int8_step.py) and their checksums join the manifest's
`compute_types` and `files`. With the training
corpus, the dev split (the one s2s-train holds out, all its references) is translated
with each type and its cased BLEU recorded, with the share of lines int8 writes as
float32 does: `compute_type="auto"` takes int8 only where it scores within 0.3 of float32.
Needs onnx and sacrebleu (the train extra), not torch.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path

from s2s_batch.export.graph_io import read_graph_io
from s2s_batch.export.int8_encoder import int8_encoder
from s2s_batch.export.int8_step import int8_decoder_step
from s2s_batch.runtime.bundle.compute_type import NAME_OF
from s2s_batch.runtime.bundle.manifest import (
    EXTRA_COMPUTE_TYPES,
    MANIFEST,
    PRESCORE_INPUT,
    load_manifest,
    sha256_of,
)
from s2s_batch.runtime.errors import BundleError
from s2s_batch.runtime.files.output import readable_mode

INT8_STEP_FILE, INT8_ENCODER_FILE = "decoder_step.int8.onnx", "encoder.int8.onnx"


def _write_manifest(root: Path, data: dict) -> None:
    """manifest.json replaced in one step, through a fresh file of the bundle folder."""
    fd, staged = tempfile.mkstemp(prefix=".manifest.", dir=root)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        os.fchmod(out.fileno(), readable_mode(0o666))  # mkstemp's 0600 would hide it from other users
    os.replace(staged, root / MANIFEST)


def _refuse_links(root: Path, names: list[str]) -> None:
    for name in names:
        if (root / name).is_symlink():
            raise BundleError(f"{root / name}: a symlink; the bundle's files are written in place, so it is "
                              "refused: replace it by a plain file or remove it")


def dev_texts(data_file: Path, recipe: dict) -> list[tuple[str, list[str]]]:
    """The dev split of the corpus the bundle was trained on: (English, its cased references)."""
    from s2s_batch.train.config import TrainConfig
    from s2s_batch.train.data import heldout_texts, read_pairs

    train_config = recipe.get("train_config", {}) if isinstance(recipe, dict) else {}
    defaults = TrainConfig()
    dev = int(train_config.get("dev_permille", defaults.dev_permille))
    test = int(train_config.get("test_permille", defaults.test_permille))
    return heldout_texts(read_pairs(data_file), "dev", dev, test, cased=True)


def score_types(bundle_dir: Path, names: list[str], dev: list[tuple[str, list[str]]]) -> dict:
    """Each compute type's cased BLEU on `dev`, and the share of lines each writes as the
    first does."""
    from s2s_batch.runtime.bleu import references_to_streams
    from s2s_batch.runtime.evaluation import evaluate
    from s2s_batch.runtime.translator import Translator

    sources = [en for en, _ in dev]
    streams = references_to_streams([refs for _, refs in dev])
    outputs, scores = {}, {}
    for name in names:
        with Translator(bundle_dir, compute_type=name) as translator:
            outputs[name] = translator.translate_lines(sources)
        scores[name] = {"dev_bleu": round(evaluate(outputs[name], streams).bleu, 2)}
    first = outputs[names[0]]
    for name in names[1:]:
        same = sum(a == b for a, b in zip(outputs[name], first))
        scores[name][f"dev_lines_as_{names[0]}"] = round(same / max(1, len(first)), 4)
    return scores


def add_compute_types(bundle_dir: Path, names: list[str], data_file: Path | None = None) -> dict:
    """Add each compute type in `names` (EXTRA_COMPUTE_TYPES) to the bundle in place; with
    `data_file` (its training corpus), measure every type's dev BLEU. Returns the manifest's
    new `compute_types`. BundleError if the bundle cannot have them."""
    manifest = load_manifest(bundle_dir)
    root = manifest.root
    unknown = sorted(set(names) - set(EXTRA_COMPUTE_TYPES))
    if unknown:
        raise BundleError(f"compute types {unknown}: this s2s-export adds {', '.join(EXTRA_COMPUTE_TYPES)}")
    if manifest.precision != "fp32":
        raise BundleError(f"{root}: its precision is {manifest.precision}; compute types are made from an fp32 "
                          "bundle's graphs, re-export it without --quantize")
    if not manifest.graphs["decoder_step"].takes(PRESCORE_INPUT):
        raise BundleError(f"{root}: its decoder step has no prescoring head, which the int8 step is made from; "
                          "re-export it with s2s-export --prescore")
    data = dict(manifest.data)
    step = manifest.graphs["decoder_step"]
    written = {"encoder": INT8_ENCODER_FILE, "decoder_step": INT8_STEP_FILE}
    _refuse_links(root, [*written.values(), MANIFEST])
    # Both graphs are made in a staging folder inside the bundle, then moved into place:
    # a failure half-way leaves the bundle as it was (its checksums still match).
    with tempfile.TemporaryDirectory(prefix=".int8.", dir=root) as staging:
        try:
            int8_decoder_step(manifest.path(step.file), Path(staging) / INT8_STEP_FILE,
                              manifest.config.tgt_vocab_size)
            int8_encoder(manifest.path(manifest.graphs["encoder"].file), Path(staging) / INT8_ENCODER_FILE)
        except Exception as exc:  # onnx's checker and onnxruntime raise several unrelated types
            raise BundleError(f"{root}: its int8 graphs cannot be made ({type(exc).__name__}: "
                              f"{str(exc).splitlines()[0][:200] if str(exc) else ''}); re-export the bundle") from None
        graph_io = {role: read_graph_io(Path(staging) / name) for role, name in written.items()}
        checksums = {name: sha256_of(Path(staging) / name) for name in written.values()}
        for name in written.values():
            os.replace(Path(staging) / name, root / name)
    own = NAME_OF[manifest.precision]
    types = {own: {"graphs": {}, "dev_bleu": None},
             "int8": {"graphs": {role: {"file": name, **graph_io[role]} for role, name in written.items()},
                      "dev_bleu": None}}
    data["files"] = {**data["files"], **checksums}
    data["compute_types"] = types
    _write_manifest(root, data)
    if data_file is not None:
        recipe = data.get("recipe", {})
        with open(data_file, "rb") as corpus:
            data_sha = hashlib.file_digest(corpus, "sha256").hexdigest()
        dev = dev_texts(data_file, recipe)
        for name, measured in score_types(root, [own, *names], dev).items():
            types[name].update(measured)
        data["metrics"] = {**data.get("metrics", {}), "compute_types_dev": {
            "sentences": len(dev), "data_sha256": data_sha,
            "same_corpus_as_training": data_sha == recipe.get("data_sha256")}}
        _write_manifest(root, data)
    load_manifest(bundle_dir)
    return types


def main(argv: list[str] | None = None) -> int:
    """The command line above; exit 4 on a bad bundle, 2 on a bad argument."""
    parser = argparse.ArgumentParser(prog="python -m s2s_batch.export.compute_types",
                                     description=__doc__.strip().splitlines()[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--add", action="append", choices=EXTRA_COMPUTE_TYPES, required=True,
                        help="compute type to add (repeatable)")
    parser.add_argument("--data", type=Path, default=None,
                        help="the training corpus (fra.txt): measure each type's dev BLEU")
    args = parser.parse_args(argv)
    if args.data is not None and not args.data.is_file():
        parser.error(f"--data {args.data}: no such file; pass the training corpus (fra.txt)")
    try:
        types = add_compute_types(args.bundle, args.add, args.data)
    except BundleError as exc:
        print(f"s2s_batch.export.compute_types: {exc}", file=sys.stderr)
        return 4
    for name, spec in types.items():
        measured = ", ".join(f"{k} {v}" for k, v in spec.items() if k != "graphs")
        print(f"{args.bundle}: {name}: {measured}", file=sys.stderr)
    if args.data is None:
        print("no --data: dev BLEU not measured, so compute_type='auto' keeps the bundle's own type",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
