"""The model configuration: one dataclass read by the checkpoint, the manifest and the CLI."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from s2s_batch.runtime.bundle.graph_names import CELL_STATE, CONTEXT, HIDDEN, MEMORY, MEMORY_KEYS, SRC_MASK

CELLS = ("rnn", "gru", "lstm")
TOKENIZERS = ("word", "sentencepiece")
ATTENTIONS = ("none", "additive", "dot", "general", "local")
# before-cell: the notes' Bahdanau decoder, queried by the previous state, so training runs
# one step at a time; after-cell: Luong's global attention without input feeding, queried
# by each step's new top-layer output, so training runs every step in one call.
ATTENTION_PLACEMENTS = ("before-cell", "after-cell")


def _opt(default, help_text, choices: tuple[str, ...] = ()):
    return field(default=default, metadata={"help": help_text, "choices": choices})


@dataclass(frozen=True)
class ModelConfig:
    """Architecture and sequence-length settings of a seq2seq model."""

    cell: str = _opt("gru", "recurrent cell: rnn, gru or lstm", CELLS)
    embed_size: int = _opt(128, "embedding size of source and target tokens")
    hidden_size: int = _opt(256, "hidden size of every recurrent layer")
    num_layers: int = _opt(2, "stacked recurrent layers in encoder and decoder")
    dropout: float = _opt(0.2, "dropout between recurrent layers (training only)")
    num_steps: int = _opt(25, "training length: sources and targets are truncated/padded to it")
    pad_source: bool = _opt(
        False,
        "seed semantics: run the encoder over padding up to num_steps "
        "(otherwise the state is taken at each sentence's own length)",
    )
    attention: str = _opt(
        "none", "decoder attention over the encoder outputs: none (the seed's fixed context), "
        "additive (Bahdanau), dot (scaled), general (Luong) or local (Luong's predictive "
        "window, general scores)", ATTENTIONS)
    attention_placement: str = _opt(
        "before-cell", "where attention sits: before-cell (Bahdanau: the previous state queries, "
        "the context feeds the cell) or after-cell (Luong: the cell's new output queries, "
        "tanh(W_c [h; context]) feeds the output layer; trains in parallel over time)", ATTENTION_PLACEMENTS)
    local_window: int = _opt(5, "attention local: half-width D of the window around the predicted position")
    self_attention: bool = _opt(
        False, "a self-attention layer (residual, layer norm) over the encoder outputs, "
        "masked by source length; with --attention only")
    bidirectional: bool = _opt(
        False, "bidirectional encoder; a bridge (linear + tanh) maps both directions' final "
        "states to the decoder's initial state")
    residual: bool = _opt(
        False, "residual connections between stacked recurrent layers (from the second layer on)")
    tokenizer: str = _opt(
        "word", "word (the seed's lowercased words) or sentencepiece (cased subwords, trained "
        "on the training split)", TOKENIZERS)
    max_decode_len: int = _opt(30, "default cap on generated tokens per sentence")
    src_vocab_size: int = _opt(0, "set from the data: source vocabulary size")
    tgt_vocab_size: int = _opt(0, "set from the data: target vocabulary size")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            choices = f.metadata.get("choices")
            if choices and getattr(self, f.name) not in choices:
                raise ValueError(f"{f.name} must be one of {', '.join(choices)}, got {getattr(self, f.name)!r}")
        for name in ("embed_size", "hidden_size", "num_layers", "num_steps", "max_decode_len"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")

    @property
    def attention_after_cell(self) -> bool:
        """True for Luong's decoder: attention over the cell's new output."""
        return self.attention != "none" and self.attention_placement == "after-cell"

    @property
    def state_names(self) -> tuple[str, ...]:
        """Names of the recurrent state tensors carried between decoder steps."""
        return (HIDDEN, CELL_STATE) if self.cell == "lstm" else (HIDDEN,)

    @property
    def memory_names(self) -> tuple[str, ...]:
        """Names of what the decoder step reads of the source, fixed for a sentence."""
        return (CONTEXT,) if self.attention == "none" else (MEMORY, MEMORY_KEYS, SRC_MASK)

    def to_dict(self) -> dict:
        """The config as a JSON-ready dict (the manifest's model_config)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """A config from a manifest's or checkpoint's dict; unknown keys are refused."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown model config fields: {', '.join(sorted(unknown))}")
        return cls(**data)
