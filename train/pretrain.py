"""Language-model pretraining of the decoder (French) and the encoder (English).

The decoder learns next-token prediction on the target side with an empty source: its
initial state is zero and its memory holds nothing (a zero context, or one zero position
for attention). The encoder learns next-token prediction on the source side through a
temporary output layer. Both train the translation model's own parameters, which the
translation training then starts from.
"""

from __future__ import annotations

import torch
from torch import nn

from s2s_batch.runtime.bundle.tokens import Vocab
from s2s_batch.train.data import Pair, to_tensor
from s2s_batch.train.loss import MaskedSoftmaxCELoss
from s2s_batch.train.model import Seq2Seq


def _batches(sentences: list[list[str]], size: int, seed: int) -> list[list[list[str]]]:
    order = torch.randperm(len(sentences), generator=torch.Generator().manual_seed(seed)).tolist()
    return [[sentences[i] for i in order[s : s + size]] for s in range(0, len(order), size)]


def _empty_memory(net: Seq2Seq, batch: int, device) -> tuple:
    cfg = net.config
    if cfg.attention == "none":
        return (torch.zeros(batch, cfg.hidden_size, device=device),)
    values = torch.zeros(batch, 1, cfg.hidden_size, device=device)
    return values, net.decoder.attention.keys(values), torch.ones(batch, 1, device=device)


def _zero_state(net: Seq2Seq, batch: int, device):
    cfg = net.config
    h = torch.zeros(cfg.num_layers, batch, cfg.hidden_size, device=device)
    return (h, h.clone()) if cfg.cell == "lstm" else h


def _update(loss: torch.Tensor, optimizer, params: list, grad_clip: float) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    nn.utils.clip_grad_norm_(params, grad_clip)
    optimizer.step()


def pretrain_decoder(net: Seq2Seq, pairs: list[Pair], tgt_vocab: Vocab, epochs: int, batch_size: int,
                     lr: float, grad_clip: float, device, log=print) -> list[float]:
    """Train the decoder as a target-side language model; returns the loss per epoch."""
    m = net.config
    params = list(net.decoder.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    loss_fn, losses = MaskedSoftmaxCELoss(), []
    net.train()
    for epoch in range(epochs):
        total, tokens = 0.0, 0
        for batch in _batches([p.tgt for p in pairs], batch_size, seed=epoch):
            tgt, tgt_len = to_tensor(batch, tgt_vocab, m.num_steps, m.pad_source)
            tgt, tgt_len = tgt.to(device), tgt_len.to(device)
            bos = torch.full((tgt.shape[0], 1), tgt_vocab.bos, dtype=torch.long, device=device)
            logits, _ = net.decoder(torch.cat([bos, tgt[:, :-1]], dim=1),
                                    _zero_state(net, tgt.shape[0], device),
                                    _empty_memory(net, tgt.shape[0], device))
            loss = loss_fn(logits, tgt, tgt_len).sum()
            _update(loss, optimizer, params, grad_clip)
            total, tokens = total + loss.item(), tokens + int(tgt_len.sum())
        losses.append(total / max(tokens, 1))
        log(f"decoder LM pretraining epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    return losses


def pretrain_encoder(net: Seq2Seq, pairs: list[Pair], src_vocab: Vocab, epochs: int, batch_size: int,
                     lr: float, grad_clip: float, device, log=print) -> list[float]:
    """Train the encoder as a source-side language model (each output predicts the next
    token) through a temporary output layer; returns the loss per epoch."""
    m = net.config
    if m.bidirectional:
        raise ValueError("--pretrain-encoder-lm needs a unidirectional encoder: a backward "
                         "direction would see the token it must predict")
    head = nn.Linear(m.hidden_size, m.src_vocab_size).to(device)
    params = list(net.encoder.parameters()) + list(head.parameters())
    optimizer = torch.optim.Adam(params, lr=lr)
    loss_fn, losses = MaskedSoftmaxCELoss(), []
    net.train()
    for epoch in range(epochs):
        total, tokens = 0.0, 0
        for batch in _batches([p.src for p in pairs], batch_size, seed=1000 + epoch):
            src, src_len = to_tensor(batch, src_vocab, m.num_steps, m.pad_source)
            src, src_len = src.to(device), src_len
            outputs, _ = net.encoder(src, src_len)  # (T, B, H): output t has read tokens 0..t
            logits = head(outputs[:-1]).transpose(0, 1)  # predicts tokens 1..T-1
            next_len = (src_len - 1).clamp(min=0).to(device)
            loss = loss_fn(logits, src[:, 1:], next_len).sum()
            _update(loss, optimizer, params, grad_clip)
            total, tokens = total + loss.item(), tokens + int(next_len.sum())
        losses.append(total / max(tokens, 1))
        log(f"encoder LM pretraining epoch {epoch + 1}/{epochs}: loss {losses[-1]:.4f}")
    return losses
