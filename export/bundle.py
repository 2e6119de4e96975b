"""Writing a model bundle: graphs, vocabularies and a manifest with checksums."""

from __future__ import annotations

import copy
import json
import shutil
import tempfile
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

from s2s_batch.export.context_gates import precompute_context_gates
from s2s_batch.export.embedding_gates import precompute_embedding_gates
from s2s_batch.export.graph_io import read_graph_io
from s2s_batch.export.loop_step import write_loop_step
from s2s_batch.export.onnx_export import OPSET, export_graphs
from s2s_batch.export.output_head import PRESCORE_CANDIDATES, PRESCORE_GROUP, rewrite_output_head
from s2s_batch.export.quantize import LOWER_PRECISION, compare_with_fp32
from s2s_batch.export.step_cells import unfuse_gru_steps
from s2s_batch.export.verify import verify_graphs, verify_loop_step
from s2s_batch.export.weight_storage import WEIGHT_STORAGES, round_to_float16, store_float16
from s2s_batch.runtime.bundle.manifest import (
    DECODER_FILE,
    ENCODER_FILE,
    FORMAT_VERSION,
    LOOP_FILE,
    MANIFEST,
    REVISION,
    SHORTLIST_FILE,
    SOURCE_CASE_FILE,
    SRC_SPM_FILE,
    SRC_VOCAB_FILE,
    TGT_SPM_FILE,
    TGT_VOCAB_FILE,
    TRUECASE_FILE,
    sha256_of,
)
from s2s_batch.runtime.bundle.shortlist import LexicalTable
from s2s_batch.runtime.bundle.tokens import Recaser, Vocab
from s2s_batch.runtime.files.output import readable_mode
from s2s_batch.train.config import TrainConfig, check_choice
from s2s_batch.train.lexicon import lexicon_from_payload
from s2s_batch.train.model import Seq2Seq
from s2s_batch.train.provenance import UNKNOWN

PARITY_TOLERANCE = 1e-4


def _special_tokens(vocab: Vocab) -> dict:
    return {"unk": vocab.unk, "pad": vocab.pad, "bos": vocab.bos, "eos": vocab.eos}


def _versions() -> dict:
    return {pkg: metadata.version(pkg) for pkg in ("torch", "onnx", "onnxruntime")}


def build_manifest(cfg: TrainConfig, src_vocab: Vocab, tgt_vocab: Vocab, payload: dict,
                   files: dict, parity: float, graph_io: dict) -> dict:
    """The manifest's content; `payload` is the checkpoint (history, data provenance).
    `graph_io` holds the decoder loop step's entry when the bundle has one."""
    history = payload.get("history", [])
    # The checkpoint's own epoch (a best.pt is written at its best epoch): the history of
    # a resumed run may hold epochs scored another way, or better epochs of other weights.
    own = history[-1] if history else {}
    data = payload.get("data", {})
    return {
        "format_version": FORMAT_VERSION,
        "revision": REVISION,
        "model_config": cfg.model.to_dict(),
        "special_tokens": {"src": _special_tokens(src_vocab), "tgt": _special_tokens(tgt_vocab)},
        "opset": OPSET,
        "graphs": {
            "encoder": {"file": ENCODER_FILE, **graph_io[ENCODER_FILE]},
            "decoder_step": {"file": DECODER_FILE, **graph_io[DECODER_FILE]},
            **({"decoder_loop": {"file": LOOP_FILE, **graph_io[LOOP_FILE]}} if LOOP_FILE in graph_io else {}),
        },
        "vocabularies": {"src": SRC_VOCAB_FILE, "tgt": TGT_VOCAB_FILE},
        "recipe": {
            "train_config": cfg.to_dict(),
            "epochs_trained": payload.get("epoch", -1) + 1,
            "command": data.get("command"),
            "data_file": data.get("file"),
            "data_sha256": data.get("sha256"),
        },
        "metrics": {"dev_bleu": own.get("dev_bleu"), "dev_seed_bleu": own.get("dev_seed_bleu"),
                    "dev_epoch": own.get("epoch"), "averaged_last": payload.get("averaged_last"),
                    "dev_sentences": cfg.dev_limit or "all", "parity_max_abs_diff": parity},
        "data_attribution": data.get("attribution") or UNKNOWN,
        # Checkpoints written before 2026-11-30 record no licence apart from the attribution.
        **({"data_license": data["license"] or UNKNOWN} if "license" in data else {}),
        "exported_with": _versions(),
        "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": files,
    }


def write_bundle(net: Seq2Seq, cfg: TrainConfig, src_vocab: Vocab, tgt_vocab: Vocab,
                 payload: dict, out_dir: Path, quantize: str = "none",
                 lexicon: LexicalTable | None = None, truecase: dict | None = None,
                 prescore: bool = True, shortlist: bool = True, loop: bool = False,
                 weight_storage: str = "float32") -> dict:
    """Export, verify and write a bundle; `out_dir` is replaced only once everything passed.

    The pipeline, in a staging folder beside `out_dir`: trace (the encoder and one decoder
    step), passes (graph rewrites for the runtime), verify (against the eager model),
    lower the precision (int8 or fp16 only), write (vocabularies, tables, manifest).

    The fp32 graphs are always checked against the eager model; with quantize="int8" or
    "fp16" they are then converted, and the converted graphs' distance from fp32 is recorded. The lexical
    table (`lexicon`, else the checkpoint's) makes a shortlist bundle: the table ships in
    it and the decoder step takes a shortlist input. `prescore` gives the decoder step
    the exact int8-prescored argmax (export/output_head.py). int8 and fp16 bundles get
    neither: their output layer is no longer the fp32 Gemm that both rewrite. A word-level
    model's truecasing table (`truecase`, else the checkpoint's) ships as truecase.txt, a
    SentencePiece model's source casing table (the checkpoint's) as source_case.txt.
    `loop` adds the decoder loop step (export/loop_step.py), which --device cuda runs in
    CUDA graphs; it is checked against the decoder step, token for token.
    `weight_storage="float16"` (fp32 bundles) exports a copy of `net` with its weights
    rounded to float16 and stores the graphs' weights in float16 (export/weight_storage.py):
    the bundle is exact to that rounded model, and the manifest says so.
    """
    check_choice("weight_storage", weight_storage, WEIGHT_STORAGES)
    if weight_storage == "float16":
        if quantize != "none":
            raise ValueError(f"--weight-storage float16 is for fp32 bundles; a --quantize {quantize} "
                             "bundle stores its weights in its own precision")
        net = copy.deepcopy(net)
        round_to_float16(net)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    if shortlist and lexicon is None:
        lexicon = lexicon_from_payload(payload)
    table = lexicon if shortlist and quantize == "none" else None
    prescore = prescore and quantize == "none"
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    tmp.chmod(readable_mode(0o777))  # mkdtemp's 0700 would hide the bundle from other users
    encoder, decoder = tmp / ENCODER_FILE, tmp / DECODER_FILE
    loop_step = tmp / LOOP_FILE if loop else None
    try:
        export_graphs(net, encoder, decoder)                                        # trace
        apply_passes(encoder, decoder, fp32=quantize == "none", shortlist=table is not None,
                     prescore=prescore, loop=(loop_step, cfg.model.state_names, tgt_vocab.eos)
                     if loop_step is not None else None)                          # passes
        parity = verify_graphs(net, encoder, decoder, PARITY_TOLERANCE)             # verify
        if loop_step is not None:
            verify_loop_step(encoder, decoder, loop_step, cfg.model, tgt_vocab.bos)
        quantization = lower_precision(net, encoder, decoder, quantize, loop_step) if quantize != "none" else {}
        if weight_storage == "float16":  # lossless: the graphs verified above compute the same
            for path in (encoder, decoder, *([loop_step] if loop_step is not None else [])):
                store_float16(path)
        manifest = write_files(tmp, cfg, src_vocab, tgt_vocab, payload, table,     # write
                               truecase if truecase is not None else payload.get("truecase"))
        manifest["metrics"]["parity_max_abs_diff"] = parity
        manifest["precision"] = "fp32" if quantize == "none" else quantize
        if weight_storage != "float32":
            manifest["weight_storage"] = weight_storage
        if prescore:
            manifest["prescore"] = {"candidates": min(PRESCORE_CANDIDATES, cfg.model.tgt_vocab_size),
                                    "group": PRESCORE_GROUP, "weight_bits": 7}
        manifest["metrics"].update(quantization)
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)
        return manifest
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def apply_passes(encoder: Path, decoder: Path, fp32: bool, shortlist: bool, prescore: bool,
                 loop: tuple[Path, tuple[str, ...], int] | None = None) -> None:
    """The graph rewrites, in order: the decoder's GRU step as plain ops; the first layer's
    input projection out of the step (context gates, or embedding gates after the cell;
    fp32 only); the loop step derived from that (`loop`: its file, the state names and
    <eos>); the output head's branches (shortlist, prescoring, banned ids, ...)."""
    unfuse_gru_steps(decoder)
    if fp32 and not precompute_context_gates(encoder, decoder):
        precompute_embedding_gates(decoder)
    if loop is not None:
        write_loop_step(decoder, *loop)
    rewrite_output_head(decoder, shortlist=shortlist, prescore=prescore)


def lower_precision(net: Seq2Seq, encoder: Path, decoder: Path, precision: str,
                    loop_step: Path | None = None) -> dict:
    """Convert the verified graphs (and the loop step, if any) to int8 or fp16 in place;
    the converted graphs' distance from fp32."""
    fp32 = encoder.parent / "fp32"
    fp32.mkdir()
    for path in (encoder, decoder):
        shutil.copy(path, fp32 / path.name)
        LOWER_PRECISION[precision](path)
    if loop_step is not None:
        LOWER_PRECISION[precision](loop_step)
    quantization = compare_with_fp32(net, (fp32 / encoder.name, fp32 / decoder.name), (encoder, decoder),
                                     precision)
    shutil.rmtree(fp32)
    return quantization


def write_files(tmp: Path, cfg: TrainConfig, src_vocab: Vocab, tgt_vocab: Vocab, payload: dict,
                lexicon: LexicalTable | None, truecase: dict | None) -> dict:
    """Write the vocabularies, tokenizer models and tables beside the graphs in `tmp`; the
    manifest's content for them (not yet written)."""
    src_vocab.save(tmp / SRC_VOCAB_FILE)
    tgt_vocab.save(tmp / TGT_VOCAB_FILE)
    graphs = [ENCODER_FILE, DECODER_FILE, *([LOOP_FILE] if (tmp / LOOP_FILE).exists() else [])]
    names = [*graphs, SRC_VOCAB_FILE, TGT_VOCAB_FILE]
    if cfg.model.tokenizer == "sentencepiece":
        models = payload.get("spm_models") or {}
        for side, name in (("src", SRC_SPM_FILE), ("tgt", TGT_SPM_FILE)):
            if side not in models:
                raise ValueError("the checkpoint has no SentencePiece models; retrain it")
            (tmp / name).write_bytes(models[side])
        names += [SRC_SPM_FILE, TGT_SPM_FILE]
    if lexicon is not None:
        lexicon.save(tmp / SHORTLIST_FILE)
        names.append(SHORTLIST_FILE)
    if truecase is not None and cfg.model.tokenizer == "word":
        Recaser(truecase).save(tmp / TRUECASE_FILE)
        names.append(TRUECASE_FILE)
    if payload.get("source_case") and cfg.model.tokenizer == "sentencepiece":
        Recaser(payload["source_case"]).save(tmp / SOURCE_CASE_FILE)
        names.append(SOURCE_CASE_FILE)
    files = {name: sha256_of(tmp / name) for name in names}
    graph_io = {name: read_graph_io(tmp / name) for name in graphs}
    manifest = build_manifest(cfg, src_vocab, tgt_vocab, payload, files, 0.0, graph_io)
    if lexicon is not None:
        manifest["shortlist"] = {"file": SHORTLIST_FILE, "source_ids": lexicon.source_size,
                                 "candidates": int(len(lexicon.targets))}
    return manifest
