"""The seed's encoder-decoder with a selectable recurrent cell."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from s2s_batch.runtime.config import ModelConfig

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def _recurrent(cfg: ModelConfig, input_size: int) -> nn.Module:
    dropout = cfg.dropout if cfg.num_layers > 1 else 0.0
    return _CELLS[cfg.cell](input_size, cfg.hidden_size, cfg.num_layers, dropout=dropout)


def top_layer(state):
    """The top layer's hidden state (B, H); for an LSTM, of its h."""
    h = state[0] if isinstance(state, tuple) else state
    return h[-1]


class Encoder(nn.Module):
    """Embedding then a stacked recurrent cell, time-major (the seed's Seq2SeqEncoder)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.pad_source = cfg.pad_source
        self.embedding = nn.Embedding(cfg.src_vocab_size, cfg.embed_size)
        self.rnn = _recurrent(cfg, cfg.embed_size)

    def forward(self, src: torch.Tensor, src_len: torch.Tensor):
        """src (B, T) ids, src_len (B,) → final state (L, B, H), or (h, c) for an LSTM."""
        x = self.embedding(src.t())  # (T, B, E)
        if self.pad_source:
            # Seed semantics: padding runs through the cell.
            _, state = self.rnn(x)
        else:
            # Packing stops each row at its own length. The TorchScript ONNX exporter
            # turns this into the ONNX RNN operator's sequence_lens input.
            packed = pack_padded_sequence(x, src_len.cpu(), enforce_sorted=False)
            _, state = self.rnn(packed)
        return state


class Decoder(nn.Module):
    """The seed's decoder: embedding ++ context into a stacked cell, then a dense layer.

    The context is the encoder's final top-layer state, fixed for the whole
    sentence (the notes' second edition; the first edition re-read the decoder's
    own changing state at prediction time, which training never saw).
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.embedding = nn.Embedding(cfg.tgt_vocab_size, cfg.embed_size)
        self.rnn = _recurrent(cfg, cfg.embed_size + cfg.hidden_size)
        self.dense = nn.Linear(cfg.hidden_size, cfg.tgt_vocab_size)

    def step(self, tokens: torch.Tensor, state, context: torch.Tensor):
        """One step without a time axis: tokens (B,) → logits (B, V) and the new state.

        The same computation as forward() with T = 1, shaped so that the exported graph
        runs the output layer as one Gemm with its bias and copies no (1, B, V) tensor.
        """
        x = torch.cat([self.embedding(tokens), context], dim=1).unsqueeze(0)  # (1, B, E + H)
        out, state = self.rnn(x, state)
        return self.dense(out[0]), state

    def forward(self, tgt_in: torch.Tensor, state, context: torch.Tensor):
        """tgt_in (B, T), context (B, H) → logits (B, T, V) and the new state."""
        x = self.embedding(tgt_in.t())  # (T, B, E)
        ctx = context.unsqueeze(0).expand(x.shape[0], -1, -1)  # (T, B, H)
        out, state = self.rnn(torch.cat([x, ctx], dim=2), state)
        return self.dense(out).transpose(0, 1), state


class Seq2Seq(nn.Module):
    """Encoder and decoder; the decoder starts from the encoder's final state."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.src_vocab_size < 5 or cfg.tgt_vocab_size < 5:
            raise ValueError("vocabulary sizes must be set in the config before building a model")
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.decoder = Decoder(cfg)
        self.apply(xavier_init)

    def forward(self, src, src_len, tgt_in):
        """Teacher-forced logits (B, T, V)."""
        state = self.encoder(src, src_len)
        logits, _ = self.decoder(tgt_in, state, top_layer(state))
        return logits


def xavier_init(module: nn.Module) -> None:
    """The seed's init: Xavier-uniform for Linear and recurrent weight matrices."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
    elif isinstance(module, (nn.RNN, nn.GRU, nn.LSTM)):
        for name in module._flat_weights_names:
            if "weight" in name:
                nn.init.xavier_uniform_(getattr(module, name))
