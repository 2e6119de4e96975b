"""The seed's encoder-decoder with a selectable recurrent cell."""

from __future__ import annotations

import contextlib
import math

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from s2s_batch.runtime.bundle.config import ModelConfig

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


def _recurrent(cfg: ModelConfig, input_size: int, bidirectional: bool = False) -> nn.Module:
    if cfg.residual and cfg.num_layers > 1:
        return ResidualStack(cfg, input_size, bidirectional)
    dropout = cfg.dropout if cfg.num_layers > 1 else 0.0
    return _CELLS[cfg.cell](input_size, cfg.hidden_size, cfg.num_layers, dropout=dropout,
                            bidirectional=bidirectional)


class ResidualStack(nn.Module):
    """Single-layer cells stacked by hand: from the second layer on, each layer's input is
    added to its output; dropout between layers, as the stacked cell applies it."""

    def __init__(self, cfg: ModelConfig, input_size: int, bidirectional: bool = False):
        super().__init__()
        self.directions = 2 if bidirectional else 1
        width = self.directions * cfg.hidden_size
        self.layers = nn.ModuleList(
            _CELLS[cfg.cell](input_size if i == 0 else width, cfg.hidden_size, 1,
                             bidirectional=bidirectional) for i in range(cfg.num_layers))
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x: torch.Tensor, state=None, lengths: torch.Tensor | None = None):
        """x (T, B, I) → outputs (T, B, D*H) and the final state (L*D, B, H) (or (h, c)), as
        the stacked cell returns them; with `lengths`, each layer stops at each row's length."""
        finals, steps = [], x.shape[0]
        for i, layer in enumerate(self.layers):
            rows = slice(i * self.directions, (i + 1) * self.directions)
            layer_state = None if state is None else (
                tuple(s[rows] for s in state) if isinstance(state, tuple) else state[rows])
            given = () if layer_state is None else (layer_state,)
            if lengths is None:
                out, final = layer(x, *given)
            else:
                packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
                out, final = layer(packed, *given)
                out = pad_packed_sequence(out, total_length=steps)[0]
            if i > 0:
                out = out + x
            x = self.dropout(out) if i < len(self.layers) - 1 else out
            finals.append(final)
        if lengths is not None:
            # The TorchScript exporter cannot lower a packed cell whose outputs are never
            # unpacked (here: a caller that keeps only the state). An empty slice of the
            # unpacked outputs, summed (0), ties them in without changing a value.
            tie = x[:1, :, :0].sum()
            finals[-1] = (tuple(f + tie for f in finals[-1]) if isinstance(finals[-1], tuple)
                          else finals[-1] + tie)
        if isinstance(finals[0], tuple):
            return x, tuple(torch.cat(parts, dim=0) for parts in zip(*finals))
        return x, torch.cat(finals, dim=0)


def recurrent_in_fp32(enabled: bool = True):
    """Under CPU bf16 autocast, a context where the recurrent cells run in float32.

    A recurrent cell under autocast casts at every step; on the Xeon that made `nn.GRU`
    25% slower than float32, while bf16 paid for the non-recurrent matmuls (the input
    projections, attention, the output layer). Which wins depends on the CPU: the
    trainer's --precision chooses (bench/train_speed.py measures both). Outside
    autocast, or with enabled=False: no-op.
    """
    if enabled and torch.is_autocast_enabled("cpu"):
        return torch.autocast("cpu", enabled=False)
    return contextlib.nullcontext()


def as_fp32(state):
    """A half-precision tensor, or an (h, c) pair, in float32; a float32 tensor as it is
    (no Cast node in an exported graph), and a float64 one too (the parity tests' exact
    reference runs the model in float64)."""
    if isinstance(state, tuple):
        return tuple(as_fp32(s) for s in state)
    return state if state is None or state.dtype in (torch.float32, torch.float64) else state.float()


def top_layer(state):
    """The top layer's hidden state (B, H); for an LSTM, of its h."""
    h = state[0] if isinstance(state, tuple) else state
    return h[-1]


class Encoder(nn.Module):
    """Embedding then a stacked recurrent cell, time-major (the seed's Seq2SeqEncoder)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.pad_source = cfg.pad_source
        self.fp32_cells = True  # under bf16 autocast (see recurrent_in_fp32)
        self.embedding = nn.Embedding(cfg.src_vocab_size, cfg.embed_size)
        self.rnn = _recurrent(cfg, cfg.embed_size, cfg.bidirectional)
        self.num_layers, self.hidden_size = cfg.num_layers, cfg.hidden_size
        self.bridges = None
        self.output_projection = None
        if cfg.bidirectional:
            # One bridge per state tensor (h, and c for an LSTM): both directions → H.
            n_states = len(cfg.state_names)
            self.bridges = nn.ModuleList(nn.Linear(2 * cfg.hidden_size, cfg.hidden_size)
                                         for _ in range(n_states))
            if cfg.attention != "none":
                self.output_projection = nn.Linear(2 * cfg.hidden_size, cfg.hidden_size)

    def forward(self, src: torch.Tensor, src_len: torch.Tensor, noise: torch.Tensor | None = None):
        """src (B, T) ids, src_len (B,) → top-layer outputs (T, B, H) and the final state
        (L, B, H), or (h, c) for an LSTM. Outputs past a row's length are zeros (before the
        projection of a bidirectional encoder)."""
        x = self.embedding(src.t())  # (T, B, E)
        if noise is not None:  # adversarial training perturbs the embeddings
            x = x + noise
        with recurrent_in_fp32(self.fp32_cells):
            outputs, state = self._run_cell(as_fp32(x), src_len, src.shape[1])
        if self.bridges is None:
            return outputs, state
        if self.output_projection is not None:
            outputs = self.output_projection(outputs)
        states = state if isinstance(state, tuple) else (state,)
        merged = tuple(self._bridge(s, bridge) for s, bridge in zip(states, self.bridges))
        return outputs, merged if isinstance(state, tuple) else merged[0]

    def _run_cell(self, x: torch.Tensor, src_len: torch.Tensor, steps: int):
        if isinstance(self.rnn, ResidualStack):
            return self.rnn(x, lengths=None if self.pad_source else src_len.cpu())
        if self.pad_source:
            # Seed semantics: padding runs through the cell.
            return self.rnn(x)
        # Packing stops each row at its own length. The TorchScript ONNX exporter
        # turns this into the ONNX RNN operator's sequence_lens input.
        packed = pack_padded_sequence(x, src_len.cpu(), enforce_sorted=False)
        outputs, state = self.rnn(packed)
        return pad_packed_sequence(outputs, total_length=steps)[0], state

    def _bridge(self, state: torch.Tensor, bridge: nn.Linear) -> torch.Tensor:
        """(2L, B, H), directions interleaved per layer → (L, B, H)."""
        both = state.reshape(self.num_layers, 2, -1, self.hidden_size)
        return torch.tanh(bridge(torch.cat([both[:, 0], both[:, 1]], dim=-1)))


class Attention(nn.Module):
    """Global attention of a query (B, H) over the encoder outputs, masked by source length.

    additive: Bahdanau's v' tanh(Wq q + Wk k); dot: q'k / sqrt(H); general: Luong's q'W k;
    local: Luong's local-p, general scores inside a window of half-width D around a
    predicted position p = (len - 1) * sigmoid(v' tanh(Wp q)), weighted by a Gaussian
    (sd D/2) after the softmax, so the weights need not sum to 1.
    Keys are projected once per sentence (`keys`), not at every step.
    """

    def __init__(self, kind: str, hidden: int, window: int = 5):
        super().__init__()
        self.kind, self.window = kind, window
        self.scale = 1.0 / math.sqrt(hidden) if kind == "dot" else 1.0
        if kind == "additive":
            self.w_query = nn.Linear(hidden, hidden, bias=False)
            self.w_key = nn.Linear(hidden, hidden, bias=False)
            self.v = nn.Linear(hidden, 1, bias=False)
        elif kind in ("general", "local"):
            self.w_key = nn.Linear(hidden, hidden, bias=False)
        if kind == "local":
            self.w_position = nn.Linear(hidden, hidden, bias=False)
            self.v_position = nn.Linear(hidden, 1, bias=False)

    def keys(self, outputs: torch.Tensor) -> torch.Tensor:
        """Encoder outputs (B, T, H) → keys (B, T, H)."""
        return outputs if self.kind == "dot" else self.w_key(outputs)

    def forward(self, query, keys, values, mask):
        """query (B, H) → context (B, H) and weights (B, T); or every step's query at once,
        (B, S, H) → context (B, S, H) and weights (B, S, T). mask (B, T) is 1 on real
        tokens, 0 on padding."""
        single = query.dim() == 2
        queries = query.unsqueeze(1) if single else query  # (B, S, H)
        mask = mask.unsqueeze(1)  # (B, 1, T)
        if self.kind == "additive":
            scores = self.v(torch.tanh(self.w_query(queries).unsqueeze(2) + keys.unsqueeze(1))).squeeze(-1)
        else:
            scores = torch.bmm(queries, keys.transpose(1, 2)) * self.scale  # (B, S, T)
        if self.kind == "local":
            lengths = mask.sum(dim=-1, keepdim=True)  # (B, 1, 1)
            center = (lengths - 1) * torch.sigmoid(self.v_position(torch.tanh(self.w_position(queries))))
            positions = torch.arange(mask.shape[-1], device=mask.device, dtype=mask.dtype)
            distance = positions - center  # (B, S, T)
            mask = mask * (distance.abs() <= self.window).to(mask.dtype)
        scores = scores.masked_fill(mask == 0, -1e9)  # exp(-1e9 - max) is exactly 0 in float32
        weights = torch.softmax(scores, dim=-1)
        if self.kind == "local":
            sigma = self.window / 2.0
            weights = weights * torch.exp(-distance.pow(2) / (2 * sigma * sigma))
        context = torch.bmm(weights, values)  # (B, S, H)
        return (context.squeeze(1), weights.squeeze(1)) if single else (context, weights)


class SelfAttention(nn.Module):
    """One scaled dot-product self-attention layer over the encoder outputs, with a
    residual connection and layer norm; padded positions are never attended to."""

    def __init__(self, hidden: int):
        super().__init__()
        self.query, self.key = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.value, self.out = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.norm = nn.LayerNorm(hidden)
        self.scale = 1.0 / math.sqrt(hidden)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x (B, T, H), mask (B, T) → (B, T, H)."""
        scores = torch.bmm(self.query(x), self.key(x).transpose(1, 2)) * self.scale  # (B, T, T)
        scores = scores.masked_fill(mask.unsqueeze(1) == 0, -1e9)
        mixed = torch.bmm(torch.softmax(scores, dim=-1), self.value(x))
        return self.norm(x + self.out(mixed))


class Decoder(nn.Module):
    """The seed's decoder: embedding ++ context into a stacked cell, then a dense layer.

    Without attention the context is the encoder's final top-layer state, fixed for the
    whole sentence (the notes' second edition; the first edition re-read the decoder's
    own changing state at prediction time, which training never saw). With attention
    before the cell it is recomputed before every step from the decoder's top-layer
    state (the notes' Bahdanau decoder). With attention after the cell (Luong et al.
    2015, no input feeding) the cell reads the embedding alone, each step's new top-layer
    output h_t queries the source, and the dense layer reads tanh(W_c [h_t; c_t]): no step
    depends on an earlier context, so teacher forcing runs every step in one call. What
    the decoder reads of the source is its `memory`: (context,), or (outputs (B,T,H),
    keys (B,T,H), mask (B,T)) with attention.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.after_cell = cfg.attention_after_cell
        self.fp32_cells = True  # under bf16 autocast (see recurrent_in_fp32)
        self.embedding = nn.Embedding(cfg.tgt_vocab_size, cfg.embed_size)
        cell_input = cfg.embed_size if self.after_cell else cfg.embed_size + cfg.hidden_size
        self.rnn = _recurrent(cfg, cell_input)
        self.dense = nn.Linear(cfg.hidden_size, cfg.tgt_vocab_size)
        self.attention = (None if cfg.attention == "none"
                          else Attention(cfg.attention, cfg.hidden_size, cfg.local_window))
        # Luong's W_c: [h_t; c_t] → the attentional state the output layer reads.
        self.combine = (nn.Linear(2 * cfg.hidden_size, cfg.hidden_size, bias=False)
                        if self.after_cell else None)
        self.self_attention = (SelfAttention(cfg.hidden_size)
                               if cfg.self_attention and self.attention is not None else None)

    def memory(self, outputs: torch.Tensor, state, src_len: torch.Tensor) -> tuple:
        """What the decoder reads of the source, from the encoder's outputs (T, B, H) and state."""
        if self.attention is None:
            return (top_layer(state),)
        values = outputs.transpose(0, 1)  # (B, T, H)
        positions = torch.arange(values.shape[1], device=values.device).unsqueeze(0)
        mask = (positions < src_len.to(values.device).unsqueeze(1)).to(values.dtype)
        if self.self_attention is not None:
            values = self.self_attention(values, mask)
        return values, self.attention.keys(values), mask

    def _attend_after(self, outputs: torch.Tensor, memory: tuple):
        """Top-layer outputs (B, H) or (B, S, H) → logits, attention weights."""
        context, weights = self.attention(outputs, *memory)
        return self.dense(torch.tanh(self.combine(torch.cat([outputs, context], dim=-1)))), weights

    def step(self, tokens: torch.Tensor, state, memory: tuple, noise: torch.Tensor | None = None):
        """One step without a time axis: tokens (B,) → logits (B, V), the new state, and the
        attention weights (B, T) (None without attention).

        Shaped so that the exported graph runs the output layer as one Gemm with its bias
        and copies no (1, B, V) tensor.
        """
        embedded = self.embedding(tokens) if noise is None else self.embedding(tokens) + noise
        if self.after_cell:
            out, state = self.rnn(embedded.unsqueeze(0), state)
            logits, weights = self._attend_after(out[0], memory)
            return logits, state, weights
        if self.attention is None:
            context, weights = memory[0], None
        else:
            context, weights = self.attention(top_layer(state), *memory)
        x = torch.cat([embedded, context], dim=1).unsqueeze(0)  # (1, B, E + H)
        out, state = self.rnn(x, state)
        return self.dense(out[0]), state, weights

    def forward(self, tgt_in: torch.Tensor, state, memory: tuple, noise: torch.Tensor | None = None):
        """tgt_in (B, T) → logits (B, T, V) and the new state; noise (T, B, E), if given, is
        added to the target embeddings."""
        if self.attention is not None and not self.after_cell:
            # The context depends on the previous step's state: one step at a time.
            logits = []
            for t in range(tgt_in.shape[1]):
                step_logits, state, _ = self.step(tgt_in[:, t], state, memory,
                                                  None if noise is None else noise[t])
                logits.append(step_logits)
            return torch.stack(logits, dim=1), state
        x = self.embedding(tgt_in.t())  # (T, B, E)
        if noise is not None:
            x = x + noise
        if not self.after_cell:
            ctx = memory[0].unsqueeze(0).expand(x.shape[0], -1, -1)  # (T, B, H)
            x = torch.cat([x, ctx.to(x.dtype)], dim=2)
        with recurrent_in_fp32(self.fp32_cells):
            out, state = self.rnn(as_fp32(x), as_fp32(state))
        if self.after_cell:
            return self._attend_after(out.transpose(0, 1), memory)[0], state
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

    def set_precision(self, precision: str) -> None:
        """fp32, bf16 (every matmul under autocast, the cells' too) or bf16-fp32-cells
        (the recurrent cells in float32); the caller opens the autocast context."""
        self.encoder.fp32_cells = self.decoder.fp32_cells = precision != "bf16"

    def encode(self, src: torch.Tensor, src_len: torch.Tensor, noise: torch.Tensor | None = None):
        """→ (the decoder's initial state, its memory of the source)."""
        outputs, state = self.encoder(src, src_len, noise)
        return state, self.decoder.memory(outputs, state, src_len)

    def forward(self, src, src_len, tgt_in, noise: tuple | None = None):
        """Teacher-forced logits (B, T, V); noise = (source, target) embedding
        perturbations (T, B, E) for adversarial training."""
        src_noise, tgt_noise = noise if noise is not None else (None, None)
        state, memory = self.encode(src, src_len, src_noise)
        logits, _ = self.decoder(tgt_in, state, memory, tgt_noise)
        return logits


def xavier_init(module: nn.Module) -> None:
    """The seed's init: Xavier-uniform for Linear and recurrent weight matrices."""
    if isinstance(module, nn.Linear):
        nn.init.xavier_uniform_(module.weight)
    elif isinstance(module, (nn.RNN, nn.GRU, nn.LSTM)):
        for name in module._flat_weights_names:
            if "weight" in name:
                nn.init.xavier_uniform_(getattr(module, name))
