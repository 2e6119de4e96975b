"""The two exported graphs as modules with fixed, named inputs and outputs."""

from __future__ import annotations

import torch
from torch import nn

from s2s_batch.train.model import Seq2Seq


class EncoderGraph(nn.Module):
    """(src [B,T], src_len [B]) → state tensors [L,B,H] (h, and c for an LSTM), then the
    decoder's memory (context [B,H]; or memory, memory_keys, src_mask with attention)."""

    def __init__(self, net: Seq2Seq):
        super().__init__()
        self.net = net

    def forward(self, src: torch.Tensor, src_len: torch.Tensor):
        state, memory = self.net.encode(src, src_len)
        states = state if isinstance(state, tuple) else (state,)
        return (*states, *memory)


class DecoderStepGraph(nn.Module):
    """One step: (tokens [B], state..., memory...) → logits [B,V], next_token [B], state_out...,
    and the attention weights [B,T] for a model with attention.

    The argmax is computed in the graph so that greedy decoding need not copy the
    logits out of the session.
    """

    def __init__(self, net: Seq2Seq):
        super().__init__()
        self.decoder = net.decoder
        self.num_states = len(net.config.state_names)

    def forward(self, tokens: torch.Tensor, *state_and_memory):
        states, memory = state_and_memory[: self.num_states], state_and_memory[self.num_states:]
        state = tuple(states) if self.num_states == 2 else states[0]
        logits, new_state, weights = self.decoder.step(tokens, state, memory)  # (B, V)
        new_states = new_state if isinstance(new_state, tuple) else (new_state,)
        return (logits, logits.argmax(dim=-1), *new_states, *(() if weights is None else (weights,)))


def probe_inputs(net: Seq2Seq, batch: int = 3, seed: int = 0):
    """A batch of random source ids as the runtime feeds them: at most num_steps long.

    Lengths cycle down from num_steps so the trace never specialises on equal lengths;
    seed-semantics models always see num_steps columns.
    """
    cfg = net.config
    gen = torch.Generator().manual_seed(seed)
    width = cfg.num_steps
    lengths = torch.tensor([width - i % width for i in range(batch)], dtype=torch.long)
    src = torch.randint(4, cfg.src_vocab_size, (batch, width), generator=gen)
    for row, length in enumerate(lengths.tolist()):
        src[row, length:] = 1  # past a row's length: padding, which masked models never read
    return src, lengths
