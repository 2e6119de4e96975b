"""A bundle described for people: what `s2s-batch info` prints."""

from __future__ import annotations

from s2s_batch.runtime.bundle.config import ModelConfig
from s2s_batch.runtime.bundle.manifest import SHORTLIST_FILE, SOURCE_CASE_FILE, TRUECASE_FILE, Manifest


def describe_bundle(manifest: Manifest) -> list[str]:
    """Lines naming the bundle's size, model, vocabularies, input handling, recipe, dev
    scores, extras, data attribution and the versions that exported it."""
    d, cfg = manifest.data, manifest.config
    # Fields the runtime does not read may hold anything: a wrong type reads as absent.
    recipe, metrics = _mapping(d.get("recipe")), _mapping(d.get("metrics"))
    d = {**d, "exported_with": _mapping(d.get("exported_with"))}
    size = sum(p.stat().st_size for p in manifest.root.iterdir() if p.is_file())
    # A warm-started run counts its own epochs; the runs before it are in the command.
    since = " since its last --init-from" if "--init-from" in str(recipe.get("command") or "") else ""
    return [
        f"bundle        {manifest.root} ({size / 1e6:.1f} MB, {manifest.precision}"
        f"{', weights stored in float16' if d.get('weight_storage') == 'float16' else ''}, "
        f"format {d['format_version']}, revision {manifest.revision}, opset {d.get('opset')})",
        f"model         {cfg.cell} encoder-decoder, {cfg.num_layers} layers, embed {cfg.embed_size}, "
        f"hidden {cfg.hidden_size}; {_architecture(cfg)}",
        f"vocabularies  source {cfg.src_vocab_size}, target {cfg.tgt_vocab_size} "
        f"({'word level' if cfg.tokenizer == 'word' else 'SentencePiece subwords'})",
        (f"sources       padded to {cfg.num_steps} tokens, as trained" if cfg.pad_source else
         f"sources       masked by length; trained on up to {cfg.num_steps} tokens, read up to "
         "--max-input-length; output capped at --max-len-a x source + --max-len-b "
         "(or --max-decoding-length)"),
        f"trained       {recipe.get('epochs_trained')} epochs{since} on {recipe.get('data_file')} "
        f"({recipe.get('command')})",
        f"dev BLEU      {metrics.get('dev_bleu')} (sacreBLEU, {metrics.get('dev_sentences')} dev sentences"
        f"{_dev_epoch(metrics)}), seed BLEU {metrics.get('dev_seed_bleu')}",
        f"compute types {_compute_types(manifest)}",
        f"extras        {_extras(manifest)}",
        f"data          {d.get('data_attribution')}"
        + (f"; licence {d['data_license']}" if "data_license" in d else ""),
        f"exported with {', '.join(f'{k} {v}' for k, v in d.get('exported_with', {}).items())}",
    ]


def _mapping(value) -> dict:
    """`value` if it is a JSON object, else {}."""
    return value if isinstance(value, dict) else {}


def _dev_epoch(metrics: dict) -> str:
    if metrics.get("dev_epoch") is None:
        return ""
    averaged = metrics.get("averaged_last")
    return f", epoch {metrics['dev_epoch']}" + (f"; the bundle's weights are the mean of the last "
                                                 f"{averaged} epochs" if averaged else "")


def _compute_types(manifest: Manifest) -> str:
    """Each compute type the bundle runs (--compute-type), with the dev BLEU it recorded."""
    own = {"fp32": "float32", "fp16": "float16"}.get(manifest.precision, manifest.precision)
    names = dict.fromkeys([own, *manifest.compute_types])
    parts = []
    for name in names:
        bleu = manifest.compute_types.get(name, ({}, None))[1]
        parts.append(name + (" (the bundle's own)" if name == own else "")
                     + (f", dev BLEU {bleu}" if bleu is not None else ""))
    return "; ".join(parts)


def _extras(manifest: Manifest) -> str:
    parts = [text for name, text in ((TRUECASE_FILE, "truecasing table (--no-truecase to skip)"),
                                     (SOURCE_CASE_FILE, "source casing table: capitals and unknown names "
                                                        "(--no-truecase to skip)"),
                                     (SHORTLIST_FILE, "shortlist table (--shortlist)"))
             if name in manifest.files]
    if "prescore" in manifest.data:
        candidates = _mapping(manifest.data["prescore"]).get("candidates")
        parts.append(f"int8 prescoring of greedy argmax, {candidates} candidates (--no-prescore to skip)")
    return "; ".join(parts) or "none"


def _architecture(cfg: ModelConfig) -> str:
    parts = ["attention " + cfg.attention if cfg.attention != "none" else "no attention (fixed context)"]
    if cfg.attention == "local":
        parts[0] += f" (window {cfg.local_window})"
    if cfg.attention != "none" and cfg.attention_placement == "after-cell":
        parts[0] += " after the cell"
    parts += [name for name, on in (("bidirectional encoder", cfg.bidirectional),
                                     ("residual layers", cfg.residual),
                                     ("encoder self-attention", cfg.self_attention)) if on]
    return ", ".join(parts)
