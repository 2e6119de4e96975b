"""The bundle contract: file names, graph I/O names, and loading a verified manifest."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

from s2s_batch.runtime.bundle.config import ModelConfig
from s2s_batch.runtime.bundle.graph_names import ATTENTION, LOGITS, NEXT_TOKEN, SRC, SRC_LEN, TOKENS, state_output
from s2s_batch.runtime.errors import BundleError

FORMAT_VERSION = 1
# The bundle layout's revision, as CTranslate2's model specs have one: bumped whenever
# what a bundle holds changes. A manifest without one is revision 1. Revision 2
# (2026-11-30): the manifest records its revision; the decoder may attend after the cell.
# Revision 3 (2026-11-30): precision may be fp16 (s2s-export --quantize fp16).
# Revision 4 (2026-12-05): each graph lists its optional inputs (those with a default:
# BANNED_INPUT, LOGITS_ONLY_INPUT, ROW_CANDIDATES_INPUT), and the runtime uses a graph
# input only where the manifest lists it. Bundles of revisions 1-3 may have them too but
# do not say so: they decode with the host-side paths (same results, slower beam search)
# until `python -m s2s_batch.export.upgrade BUNDLE` rewrites their manifest.
REVISION = 4
# The revision from which a manifest lists each graph's optional inputs.
OPTIONAL_INPUTS_SINCE = 4
# What a bundle's graphs compute in, besides fp32 (s2s-export --quantize).
LOWER_PRECISIONS = ("int8", "fp16")
# Optional (2026-12-05; runtimes before it ignore it): `compute_types` maps a CTranslate2
# compute type to the graphs that replace the bundle's own for it (an empty map for the
# bundle's own type) and the dev BLEU each type scored at export
# (export/compute_types.py); its files are in `files` like every other.
EXTRA_COMPUTE_TYPES = ("int8",)
# Optional (2026-12-05; runtimes before it ignore it, onnxruntime reads such graphs as any
# other): `weight_storage` "float16" says the fp32 graphs keep their weights in float16,
# each widened by a Cast that onnxruntime folds at load (s2s-export --weight-storage,
# export/weight_storage.py); absent, "float32".
WEIGHT_STORAGES = ("float32", "float16")
# The graphs of a bundle by role, and the special tokens each vocabulary records.
GRAPH_FILES = {"encoder": "encoder.onnx", "decoder_step": "decoder_step.onnx"}
# Optional (s2s-export --device cuda, 2026-12-04): the decoder loop step without branches
# that --device cuda runs in CUDA graphs (export/loop_step.py). Runtimes before it ignore it.
OPTIONAL_GRAPH_FILES = {"decoder_loop": "decoder_loop.onnx"}
LOOP_FILE = OPTIONAL_GRAPH_FILES["decoder_loop"]
SPECIAL_TOKENS = ("unk", "pad", "bos", "eos")
MANIFEST = "manifest.json"
MAX_MANIFEST_BYTES = 1 << 20  # the default's is 7 KB
ENCODER_FILE, DECODER_FILE = GRAPH_FILES["encoder"], GRAPH_FILES["decoder_step"]
SRC_VOCAB_FILE, TGT_VOCAB_FILE = "src_vocab.txt", "tgt_vocab.txt"
# Only in bundles with tokenizer "sentencepiece": the segmentation models of each side.
SRC_SPM_FILE, TGT_SPM_FILE = "src.spm.model", "tgt.spm.model"
# Only in bundles with a vocabulary shortlist: the lexical table, and the decoder step's
# extra input (sorted int64 target ids; empty: the full vocabulary).
SHORTLIST_FILE, SHORTLIST_INPUT = "shortlist.npz", "shortlist_ids"
# Only in fp32 bundles exported with int8 prescoring: the decoder step's switch (bool
# scalar) between the exact int8-prescored argmax and the plain output layer.
PRESCORE_INPUT = "prescore"
# Optional inputs of the decoder step (in bundles whose head has either switch above):
# target ids next_token never takes (int64 [N], default empty), e.g. <unk> with
# disable_unk; their logits read BANNED_LOGIT.
BANNED_INPUT, BANNED_LOGIT = "banned_ids", -1e9
# True when only the logits are read (bool scalar, default false); next_token is then
# not computed.
LOGITS_ONLY_INPUT = "logits_only"
# When C > 0 (int64 [1], default 0), the step returns
# each row's C best log-probabilities [B, C] as logits (sorted, best first) and their ids
# [B * C] as next_token: beam search's per-row candidates, so the logits stay in the graph.
ROW_CANDIDATES_INPUT = "row_candidates"
# Only in word-level bundles with truecasing: lowercase word TAB its usual form.
TRUECASE_FILE = "truecase.txt"
# Only in SentencePiece bundles exported since 2026-12-04: every source word of the
# training data, lowercase TAB its usual form (runtime/text.py undoes ALL CAPS
# and Title Case input with it).
SOURCE_CASE_FILE = "source_case.txt"


def encoder_io(cfg: ModelConfig) -> tuple[list[str], list[str]]:
    """Encoder graph: (src [B,T] int64, src_len [B] int64) → state tensors [L,B,H], then the
    decoder's memory: context [B,H], or with attention memory [B,T,H], memory_keys [B,T,H]
    and src_mask [B,T]."""
    return [SRC, SRC_LEN], [*cfg.state_names, *cfg.memory_names]


def decoder_io(cfg: ModelConfig) -> tuple[list[str], list[str]]:
    """One decoder step: (tokens [B], state..., memory...) → logits [B,V], next_token [B],
    state_out..., and with attention its weights [B,T]."""
    return ([TOKENS, *cfg.state_names, *cfg.memory_names],
            [LOGITS, NEXT_TOKEN, *(state_output(name) for name in cfg.state_names),
             *([ATTENTION] if cfg.attention != "none" else [])])


def sha256_of(path: Path) -> str:
    """The hex sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def member(root: Path, name: object) -> Path:
    """`root / name` for a name that is a plain file name of the bundle folder.

    A manifest may come from anyone: a name with a path separator, `..`, an absolute
    path, or a symlink that leads out of the folder is refused (BundleError), so no
    loader reads, checksums or ships a file outside the bundle.
    """
    root = Path(root)
    if (not isinstance(name, str) or name in ("", ".", "..") or "/" in name or "\\" in name
            or "\0" in name or Path(name).is_absolute() or Path(name).name != name):
        raise BundleError(f"{root / MANIFEST}: lists {name!r}, which is not a plain file name of the "
                          "bundle folder; the bundle is refused, re-export it with s2s-export")
    path = root / name
    if path.is_symlink() and path.resolve().parent != root.resolve():
        raise BundleError(f"{path}: a symlink that leads out of the bundle folder; the bundle is "
                          "refused, copy the real file into the folder")
    return path


@dataclass(frozen=True)
class GraphEntry:
    """One graph of the bundle: its file, the input and output names it has, and (from
    revision OPTIONAL_INPUTS_SINCE) the inputs a feed may leave out, each having a default."""

    file: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    optional_inputs: tuple[str, ...] = ()

    def takes(self, name: str) -> bool:
        """Whether the manifest says the graph can be fed `name`: the one place the runtime
        decides which graph features a bundle has."""
        return name in self.inputs or name in self.optional_inputs


@dataclass(frozen=True)
class Manifest:
    """A bundle's manifest, checked against the files beside it.

    The fields the runtime reads are typed; `data` keeps the whole document (the training
    recipe, metrics and provenance that `s2s-batch info` prints)."""

    root: Path
    data: dict
    config: ModelConfig
    revision: int
    files: dict[str, str]  # file name → sha256
    special_tokens: dict[str, dict[str, int]]  # "src" / "tgt" → unk, pad, bos, eos ids
    graphs: dict[str, GraphEntry]  # "encoder", "decoder_step", and "decoder_loop" if shipped
    vocabularies: dict[str, str]  # "src" / "tgt" → file name
    precision: str = "fp32"
    # compute type → (the graphs that replace `graphs` for it, its dev BLEU or None)
    compute_types: dict[str, tuple[dict[str, GraphEntry], float | None]] = dataclasses.field(default_factory=dict)

    def path(self, name: str) -> Path:
        """The bundle's file `name`, refused if it is not a plain file of the folder or not
        in the manifest's checksummed list (a file left out of it could be swapped unchecked)."""
        if name not in self.files and name != MANIFEST:
            raise BundleError(f"{self.root / name}: the bundle reads it but the manifest lists no checksum "
                              "for it; re-export the bundle")
        return member(self.root, name)


_JSON_TYPES = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}


def manifest_schema() -> dict:
    """The JSON Schema (draft 2020-12) of manifest.json: what load_manifest reads, typed.
    Fields it does not read (recipe, metrics, provenance) may hold anything."""
    names = {"type": "array", "items": {"type": "string"}}
    graph = {"type": "object", "required": ["file", "inputs", "outputs"],
             "properties": {"file": {"type": "string"}, "inputs": names, "outputs": names,
                            "optional_inputs": names}}
    ids = {"type": "object", "required": list(SPECIAL_TOKENS),
           "properties": {k: {"type": "integer", "minimum": 0} for k in SPECIAL_TOKENS}}
    both = lambda item: {"type": "object", "required": ["src", "tgt"],  # noqa: E731
                         "properties": {"src": item, "tgt": item}}
    config = {"type": "object", "additionalProperties": False,
              "properties": {f.name: {"type": _JSON_TYPES[str(f.type)],
                                      **({"enum": list(f.metadata["choices"])} if f.metadata.get("choices") else {})}
                             for f in dataclasses.fields(ModelConfig)}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "s2s-batch bundle manifest",
        "type": "object",
        "required": ["format_version", "model_config", "special_tokens", "graphs", "vocabularies", "files"],
        "properties": {
            "format_version": {"const": FORMAT_VERSION},
            "revision": {"type": "integer", "minimum": 1, "maximum": REVISION},
            "model_config": config,
            "special_tokens": both(ids),
            "graphs": {"type": "object", "required": list(GRAPH_FILES),
                       "properties": {role: graph for role in (*GRAPH_FILES, *OPTIONAL_GRAPH_FILES)}},
            "vocabularies": both({"type": "string"}),
            "files": {"type": "object",
                      "additionalProperties": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
            "precision": {"enum": ["fp32", *LOWER_PRECISIONS]},
            "weight_storage": {"enum": list(WEIGHT_STORAGES)},
            "compute_types": {"type": "object", "additionalProperties": {
                "type": "object", "properties": {
                    "graphs": {"type": "object", "properties": {role: graph for role in GRAPH_FILES}},
                    "dev_bleu": {"type": ["number", "null"]}}}},
        },
    }


def _graph_entry(entry: dict, revision: int) -> GraphEntry:
    optional = entry.get("optional_inputs", []) if revision >= OPTIONAL_INPUTS_SINCE else []
    return GraphEntry(str(entry["file"]), tuple(map(str, entry["inputs"])), tuple(map(str, entry["outputs"])),
                      tuple(map(str, optional)))


def _object(value) -> dict:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, not {type(value).__name__}")
    return value


def _finite_or_none(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(float(value)):
        raise ValueError(f"dev_bleu {str(value)[:20]!r} is not a finite number")
    return float(value)


def load_manifest(bundle_dir: Path, verify_checksums: bool = True) -> Manifest:
    """Read and validate manifest.json; raise BundleError naming the file and the fix."""
    root = Path(bundle_dir)
    if not root.is_dir():
        raise BundleError(f"bundle not found: {root} is not a directory; pass --bundle DIR "
                          "with a folder written by s2s-export")
    manifest_path = root / MANIFEST
    try:
        if manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
            raise BundleError(f"{manifest_path}: {manifest_path.stat().st_size:,} bytes, more than a manifest "
                              f"holds ({MAX_MANIFEST_BYTES:,}); re-export the bundle")
        data = json.loads(manifest_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{manifest_path}: missing; the folder is not a bundle, "
                          "re-export it with s2s-export") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{manifest_path}: not valid JSON ({exc}); re-export the bundle") from None
    except RecursionError:
        raise BundleError(f"{manifest_path}: nested too deep to be a manifest; re-export the bundle") from None
    version = data.get("format_version") if isinstance(data, dict) else None
    if version != FORMAT_VERSION:
        raise BundleError(f"{manifest_path}: bundle format version {version!r}, this runtime reads "
                          f"{FORMAT_VERSION}; re-export with a matching s2s-export or upgrade s2s-batch")
    revision = data.get("revision", 1)
    if not isinstance(revision, int) or isinstance(revision, bool) or revision < 1:
        raise BundleError(f"{manifest_path}: bundle revision {revision!r} is not a revision number; "
                          "re-export the bundle")
    if revision > REVISION:
        raise BundleError(f"{manifest_path}: bundle revision {revision!r}, newer than this runtime's "
                          f"{REVISION}; upgrade s2s-batch or re-export with its s2s-export")
    try:
        config = ModelConfig.from_dict(data["model_config"])
        files = {str(k): str(v) for k, v in dict(data["files"]).items()}
        special = {side: {k: int(data["special_tokens"][side][k]) for k in SPECIAL_TOKENS}
                   for side in ("src", "tgt")}
        graphs = {role: _graph_entry(data["graphs"][role], revision) for role in (*GRAPH_FILES, *OPTIONAL_GRAPH_FILES)
                  if role in GRAPH_FILES or role in data["graphs"]}
        vocabularies = {side: str(data["vocabularies"][side]) for side in ("src", "tgt")}
        precision = str(data.get("precision", "fp32"))
        compute_types = {str(name): ({role: _graph_entry(entry, revision)
                                      for role, entry in dict(spec.get("graphs", {})).items() if role in GRAPH_FILES},
                                     _finite_or_none(spec.get("dev_bleu")))
                         for name, spec in _object(data.get("compute_types", {})).items()}
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise BundleError(f"{manifest_path}: malformed manifest ({exc}); re-export the bundle") from None
    extra_graphs = [g.file for replaced, _ in compute_types.values() for g in replaced.values()]
    for name in [*(g.file for g in graphs.values()), *extra_graphs, *vocabularies.values()]:
        if name not in files:
            raise BundleError(f"{manifest_path}: lists no checksum for {name}; re-export the bundle")
    for name, expected in files.items():
        path = member(root, name)
        if not path.is_file():
            raise BundleError(f"{path}: missing from the bundle; copy the whole bundle folder again")
        if verify_checksums and sha256_of(path) != expected:
            raise BundleError(f"{path}: sha256 does not match the manifest (corrupt or modified); "
                              "copy the bundle again or re-export it")
    return Manifest(root=root, data=data, config=config, revision=revision, files=files,
                    special_tokens=special, graphs=graphs, vocabularies=vocabularies, precision=precision,
                    compute_types=compute_types)
