"""Eager PyTorch greedy decoding: the seed's one-sentence loop and a batched loop.

These are the references the runtime is tested and benchmarked against.
"""

from __future__ import annotations

import torch

from s2s_batch.runtime.batching import DEFAULT_MAX_INPUT_LENGTH, pad_batch
from s2s_batch.runtime.bundle.tokens import Vocab, with_eos
from s2s_batch.train.data import truncate_pad
from s2s_batch.train.model import Seq2Seq


def source_row(cfg, src_tokens: list[str], src_vocab: Vocab) -> list[int]:
    """The ids the runtime's encoder reads for a sentence: seed-semantics models cut it to
    num_steps as trained; the others read it whole, up to the runtime's default
    max_input_length (the training length is no limit for a masked encoder)."""
    if cfg.pad_source:
        return with_eos(src_vocab.encode(src_tokens), src_vocab.eos, cfg.num_steps, True)
    return src_vocab.encode(src_tokens)[:DEFAULT_MAX_INPUT_LENGTH] + [src_vocab.eos]


@torch.no_grad()
def encode_sentence(net: Seq2Seq, src_tokens: list[str], src_vocab: Vocab):
    """Encoder state and decoder memory for one sentence in a batch of one.

    Seed-semantics models see the source padded to num_steps; the others see it unpadded.
    """
    cfg = net.config
    ids = source_row(cfg, src_tokens, src_vocab)
    enc_valid_len = torch.tensor([len(ids)])
    if cfg.pad_source:
        ids = truncate_pad(ids, cfg.num_steps, src_vocab.pad)
    return net.encode(torch.tensor([ids]), enc_valid_len)


@torch.no_grad()
def predict_seq2seq(net: Seq2Seq, src_tokens: list[str], src_vocab: Vocab, tgt_vocab: Vocab,
                    max_len: int, banned: int | None = None) -> list[int]:
    """The seed's predict_seq2seq: one sentence in a batch of one, argmax fed back until <eos>;
    a `banned` id (the runtime's disable_unk) is never chosen."""
    net.eval()
    state, memory = encode_sentence(net, src_tokens, src_vocab)
    dec_x = torch.tensor([[tgt_vocab.bos]])
    output = []
    for _ in range(max_len):
        y, state = net.decoder(dec_x, state, memory)
        if banned is not None:
            y[..., banned] = -torch.inf
        dec_x = y.argmax(dim=2)
        pred = int(dec_x.squeeze())
        if pred == tgt_vocab.eos:
            break
        output.append(pred)
    return output


@torch.no_grad()
def greedy_batch(net: Seq2Seq, sentences: list[list[str]], src_vocab: Vocab, tgt_vocab: Vocab,
                 max_len: int, batch_size: int = 256, banned: int | None = None) -> list[list[int]]:
    """Batched greedy decoding in eager PyTorch; returns ids without <eos>; a `banned` id is
    never chosen."""
    cfg = net.config
    net.eval()
    device = next(net.parameters()).device
    results: list[list[int]] = []
    for start in range(0, len(sentences), batch_size):
        rows = [source_row(cfg, s, src_vocab) for s in sentences[start : start + batch_size]]
        src, src_len = (torch.from_numpy(a) for a in
                        pad_batch(rows, src_vocab.pad, cfg.num_steps if cfg.pad_source else None))
        state, memory = net.encode(src.to(device), src_len)
        tokens = torch.full((src.shape[0], 1), tgt_vocab.bos, dtype=torch.long, device=device)
        finished = torch.zeros(src.shape[0], dtype=torch.bool, device=device)
        steps = []
        for _ in range(max_len):
            logits, state = net.decoder(tokens, state, memory)
            if banned is not None:
                logits[..., banned] = -torch.inf
            tokens = logits.argmax(dim=2)
            steps.append(tokens[:, 0])
            finished |= tokens[:, 0] == tgt_vocab.eos
            if bool(finished.all()):
                break
        for row in torch.stack(steps, dim=1).tolist():
            results.append(row[: row.index(tgt_vocab.eos)] if tgt_vocab.eos in row else row)
    return results
