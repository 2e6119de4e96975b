"""The training loop: teacher forcing, masked loss, clipping, Adam, per-epoch dev scores."""

from __future__ import annotations

import dataclasses
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import NamedTuple

import torch
from tqdm import tqdm

from s2s_batch.runtime.bleu import corpus_bleu, mean_seed_bleu, references_to_streams
from s2s_batch.runtime.bundle.tokens import SentencePieceTokenizer, Vocab, WordTokenizer, detokenize
from s2s_batch.runtime.errors import UsageError
from s2s_batch.runtime.files.output import atomic_write
from s2s_batch.train.augment import Augmenter, AugmentRates, corpus_names, name_pool
from s2s_batch.train.checkpoint import load_checkpoint, save_checkpoint
from s2s_batch.train.config import TrainConfig
from s2s_batch.train.curriculum import curriculum_batches, difficulty_order
from s2s_batch.train.curves import training_curves
from s2s_batch.train.data import HeldOut, Pair, read_pairs, split_corpus, to_tensor, training_raw
from s2s_batch.train.distill import distilled_corpus, teacher_bundles
from s2s_batch.train.learned_tables import build_vocab, learn_source_casing, learn_truecasing, train_sentencepiece
from s2s_batch.train.lexicon import build_lexical_table, lexicon_payload
from s2s_batch.train.loss import MaskedSoftmaxCELoss
from s2s_batch.train.model import Seq2Seq
from s2s_batch.train.predict import greedy_batch
from s2s_batch.train.pretrain import pretrain_decoder, pretrain_encoder
from s2s_batch.train.provenance import data_provenance

LAST, BEST, AVERAGED = "checkpoint.pt", "best.pt", "averaged.pt"
PLAIN_EVERY = 200
CURVES = "curves.png"  # loss and dev BLEU per epoch, rewritten after each epoch


def epoch_batches(pairs: list[Pair], cfg: TrainConfig, epoch: int) -> list[list[Pair]]:
    """This epoch's batches, the same for the same seed and epoch (so resuming repeats nothing).

    Seed-semantics runs shuffle plainly, as the seed does; the others group pairs of
    similar target length into batches (less padding), then shuffle the batches.
    """
    rng = random.Random(cfg.seed * 100_003 + epoch)
    order = list(range(len(pairs)))
    rng.shuffle(order)
    if not cfg.model.pad_source:
        window = cfg.batch_size * 50
        order = [i for s in range(0, len(order), window)
                 for i in sorted(order[s : s + window], key=lambda j: len(pairs[j].tgt))]
    batches = [[pairs[i] for i in order[s : s + cfg.batch_size]]
               for s in range(0, len(order), cfg.batch_size)]
    if not cfg.model.pad_source:
        rng.shuffle(batches)
    return batches


def _tensors(net, batch, src_vocab, tgt_vocab, device):
    m = net.config
    src, src_len = to_tensor([p.src for p in batch], src_vocab, m.num_steps, m.pad_source)
    tgt, tgt_len = to_tensor([p.tgt for p in batch], tgt_vocab, m.num_steps, m.pad_source)
    src, tgt, tgt_len = src.to(device), tgt.to(device), tgt_len.to(device)
    bos = torch.full((tgt.shape[0], 1), tgt_vocab.bos, dtype=torch.long, device=device)
    dec_input = torch.cat([bos, tgt[:, :-1]], dim=1)  # teacher forcing: <bos> + shifted target
    return src, src_len, dec_input, tgt, tgt_len


def batch_loss(net: Seq2Seq, batch: list[Pair], src_vocab: Vocab, tgt_vocab: Vocab,
               loss_fn: MaskedSoftmaxCELoss, device, adversarial: float = 0.0) -> tuple[torch.Tensor, int]:
    """Summed masked loss of a batch under teacher forcing, and its target token count.

    With adversarial = eps > 0 it is the clean loss plus the loss of the same batch with
    its embeddings perturbed along the clean loss's gradient (norm eps per sentence).
    """
    src, src_len, dec_input, tgt, tgt_len = _tensors(net, batch, src_vocab, tgt_vocab, device)
    if adversarial > 0:
        clean, perturbed = adversarial_losses(net, (src, src_len, dec_input, tgt, tgt_len),
                                              loss_fn, adversarial)
        return clean + perturbed, int(tgt_len.sum())
    logits = net(src, src_len, dec_input)
    return loss_fn(logits, tgt, tgt_len).sum(), int(tgt_len.sum())


def adversarial_losses(net: Seq2Seq, tensors, loss_fn, eps: float):
    """(clean loss, perturbed loss) of a batch, fast-gradient style (Miyato et al. 2017):
    the source and target embeddings move by eps along the clean loss's gradient,
    L2-normalised per sentence."""
    src, src_len, dec_input, tgt, tgt_len = tensors
    embed = net.config.embed_size
    zeros = [torch.zeros(x.shape[1], x.shape[0], embed, device=x.device, requires_grad=True)
             for x in (src, dec_input)]
    clean = loss_fn(net(src, src_len, dec_input, tuple(zeros)), tgt, tgt_len).sum()
    grads = torch.autograd.grad(clean, zeros, retain_graph=True)
    noise = tuple(eps * g / (g.pow(2).sum(dim=(0, 2), keepdim=True).sqrt() + 1e-12) for g in grads)
    perturbed = loss_fn(net(src, src_len, dec_input, tuple(n.detach() for n in noise)), tgt, tgt_len).sum()
    return clean, perturbed


@torch.no_grad()
def evaluate_dev(net: Seq2Seq, dev: HeldOut, src_vocab: Vocab, tgt_vocab: Vocab,
                 loss_fn: MaskedSoftmaxCELoss, device, detok=detokenize) -> dict:
    """Dev loss (the seed's: summed loss / target tokens, teacher-forced, every reference) and greedy dev BLEU."""
    net.eval()
    pairs = [Pair(s, r) for s, refs in zip(dev.sources, dev.references) for r in refs]
    total, tokens = 0.0, 0
    for start in range(0, len(pairs), 256):
        loss, n = batch_loss(net, pairs[start : start + 256], src_vocab, tgt_vocab, loss_fn, device)
        total, tokens = total + float(loss), tokens + n
    hyp_ids = greedy_batch(net, dev.sources, src_vocab, tgt_vocab, net.config.max_decode_len)
    hyps = [detok(tgt_vocab.decode(ids)) for ids in hyp_ids]
    streams = references_to_streams([[detok(r) for r in refs] for refs in dev.references])
    net.train()
    return {
        "dev_loss": round(total / max(tokens, 1), 4),
        "dev_bleu": round(corpus_bleu(hyps, streams).score, 2),
        "dev_seed_bleu": round(mean_seed_bleu(hyps, streams), 4),
    }


def tokenizers_for(cfg: TrainConfig, raw: list[tuple[str, str]], models: dict | None = None):
    """(source tokenizer, target tokenizer, SentencePiece models or None) for a config.

    SentencePiece models are trained on the training split unless `models` (their
    serialized protos, from a checkpoint) are given.
    """
    if cfg.model.tokenizer == "word":
        return WordTokenizer(), WordTokenizer(), None
    if models is None:
        train_raw = training_raw(raw, cfg.dev_permille, cfg.test_permille, cfg.max_pairs)
        models = {side: train_sentencepiece([pair[i] for pair in train_raw], cfg.spm_vocab_size,
                                            cfg.spm_model_type)
                  for i, side in enumerate(("src", "tgt"))}
    return SentencePieceTokenizer(models["src"]), SentencePieceTokenizer(models["tgt"]), models


def source_casing_for(cfg: TrainConfig, raw: list[tuple[str, str]]) -> dict | None:
    """A SentencePiece model's source casing table (each English word's usual form, from
    the training split of `raw`); None for word-level models, which read lowercase."""
    if cfg.model.tokenizer == "word":
        return None
    train_raw = training_raw(raw, cfg.dev_permille, cfg.test_permille, cfg.max_pairs)
    return learn_source_casing(en for en, _ in train_raw)


def truecasing_for(cfg: TrainConfig, raw: list[tuple[str, str]]) -> dict | None:
    """A word-level model's truecasing table (lowercase → cased) from the raw targets of
    the training split of `raw` (the whole corpus); None for SentencePiece models."""
    if cfg.model.tokenizer != "word":
        return None
    train_raw = training_raw(raw, cfg.dev_permille, cfg.test_permille, cfg.max_pairs)
    return learn_truecasing(fr for _, fr in train_raw).table


class Prepared(NamedTuple):
    """The corpus as training needs it."""

    train_pairs: list[Pair]
    dev: HeldOut
    test: HeldOut
    src_tok: object
    tgt_tok: object
    spm_models: dict | None
    raw: list[tuple[str, str]]  # every (English, French) line of the corpus, as read
    train_raw: list[tuple[str, str]]  # the training split's pairs as text (the targets distilled, if so)


def prepare(cfg: TrainConfig, data_path: Path, spm_models: dict | None = None,
            cache_dir: Path | None = None, log=print) -> Prepared:
    """Read and split the corpus, tokenized as the config says; with cfg.distill_from, the
    training targets are the teacher's (train/distill.py; cached in `cache_dir`)."""
    raw = read_pairs(data_path)
    src_tok, tgt_tok, spm_models = tokenizers_for(cfg, raw, spm_models)
    word = cfg.model.tokenizer == "word"
    pairs = raw
    if cfg.distill_from:
        pairs = distilled_corpus(raw, teacher_bundles(cfg.distill_from), cfg.dev_permille, cfg.test_permille,
                                 cfg.distill_beam_size, cfg.distill_length_penalty,
                                 cfg.distill_keep_references, cache_dir, log, cfg.distill_select)
    train_pairs, dev, test = split_corpus(pairs, cfg.dev_permille, cfg.test_permille, cfg.max_pairs,
                                          None if word else src_tok, None if word else tgt_tok)
    for name, empty in (("training", not train_pairs), ("dev", not dev.sources),
                        ("test", not test.sources)):
        if empty:
            raise ValueError(
                f"{data_path}: its {len(raw)} pairs leave the {name} split empty (dev {cfg.dev_permille}, "
                f"test {cfg.test_permille} per mille of the distinct English sentences); use a larger "
                "corpus, or set --dev-permille / --test-permille to fit it")
    if cfg.dev_limit and len(dev.sources) > cfg.dev_limit:
        # Evenly spaced, not the first N: the corpus is sorted by length.
        pick = [round(i * len(dev.sources) / cfg.dev_limit) for i in range(cfg.dev_limit)]
        dev = HeldOut([dev.sources[i] for i in pick], [dev.references[i] for i in pick])
    train_raw = training_raw(pairs, cfg.dev_permille, cfg.test_permille, cfg.max_pairs)
    return Prepared(train_pairs, dev, test, src_tok, tgt_tok, spm_models, raw, train_raw)


CURVES_EVERY_S = 30.0  # the training-curves figure is redrawn at most this often, and at the end

# What a resumed run may change: how long and how fast it goes on, not the model or data.
RESUME_SETTINGS = ("epochs", "lr", "average_last", "patience", "precision")


def train(cfg: TrainConfig, data_path: Path, out_dir: Path, *, resume: bool = False,
          device: str = "cpu", progress: bool = True, log=print,
          resume_settings: dict | None = None, init_from: Path | None = None,
          provenance: dict | None = None) -> dict:
    """Train (or resume) a model; writes checkpoint.pt each epoch and best.pt on dev BLEU.

    On resume the checkpoint's config wins over `cfg`, except for the RESUME_SETTINGS
    given in `resume_settings`: a new total of epochs, a new learning rate
    (fine-tuning at a lower rate), checkpoint averaging, early stopping. A fresh run with
    `init_from` starts from another run's checkpoint instead of random weights (see
    warm_start). `provenance` may give the corpus's `attribution` and `license` (else
    what the corpus folder says, else "unknown"). Returns the last epoch's metrics.
    """
    out_dir = Path(out_dir)
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _train(cfg, data_path, out_dir, resume=resume, device=device, progress=progress,
                      log=log, resume_settings=resume_settings, init_from=init_from,
                      provenance=provenance or {})
    except BaseException:
        # A run that failed before writing anything leaves no empty folder behind.
        if created and out_dir.is_dir() and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise


class _Start(NamedTuple):
    """Where a run begins: the model, its data and what the checkpoint carries on."""

    net: Seq2Seq
    cfg: TrainConfig
    src_vocab: Vocab
    tgt_vocab: Vocab
    payload: dict
    corpus: Prepared
    history: list
    start_epoch: int


def _resumed(cfg: TrainConfig, data_path: Path, out_dir: Path, device: str, log,
             resume_settings: dict | None, provenance: dict) -> _Start:
    """The run in out_dir, from its last checkpoint, with the RESUME_SETTINGS given."""
    net, cfg, src_vocab, tgt_vocab, payload = load_checkpoint(out_dir / LAST, device)
    history, start_epoch = payload["history"], payload["epoch"] + 1
    changed = {k: v for k, v in (resume_settings or {}).items() if k in RESUME_SETTINGS and v is not None}
    cfg = dataclasses.replace(cfg, **changed)
    if "lr" in changed:
        log(f"resuming at learning rate {cfg.lr:g}")
    payload["data"]["command"] += " ; " + data_provenance(data_path, **provenance)["command"]
    corpus = prepare(cfg, data_path, payload.get("spm_models"), out_dir, log)
    log(f"resuming from {out_dir / LAST} at epoch {start_epoch + 1}/{cfg.epochs}")
    return _Start(net, cfg, src_vocab, tgt_vocab, payload, corpus, history, start_epoch)


def _warm_started(cfg: TrainConfig, data_path: Path, out_dir: Path, device: str, log, init_from: Path,
                  provenance: dict) -> _Start:
    """A new run from another run's weights (warm_start)."""
    net, cfg, src_vocab, tgt_vocab, payload = warm_start(cfg, Path(init_from), device, log)
    corpus = prepare(cfg, data_path, payload["spm_models"], out_dir, log)
    inherited_command = payload["data"]["command"]
    payload["data"] = data_provenance(data_path, **provenance)
    # The recipe of a warm-started model is the one it started from, then this one.
    payload["data"]["command"] = inherited_command + " ; " + payload["data"]["command"]
    return _Start(net, cfg, src_vocab, tgt_vocab, payload, corpus, [], 0)


def _fresh(cfg: TrainConfig, data_path: Path, out_dir: Path, device: str, log, provenance: dict) -> _Start:
    """A new run from random weights: vocabularies from the training split, then the
    language-model pretraining the config asks for."""
    corpus = prepare(cfg, data_path, cache_dir=out_dir, log=log)
    train_pairs, spm_models = corpus.train_pairs, corpus.spm_models
    # Every piece of a SentencePiece model was chosen from this data: keep them all.
    min_freq = cfg.min_freq if spm_models is None else 1
    src_vocab = build_vocab((p.src for p in train_pairs), min_freq)
    tgt_vocab = build_vocab((p.tgt for p in train_pairs), min_freq)
    cfg = sized_for(cfg, src_vocab, tgt_vocab)
    net = Seq2Seq(cfg.model).to(device)
    payload = {"data": data_provenance(data_path, **provenance), "spm_models": spm_models}
    pretraining = {}
    if cfg.pretrain_decoder_lm:
        pretraining["decoder_lm_loss"] = pretrain_decoder(
            net, train_pairs, tgt_vocab, cfg.pretrain_epochs, cfg.batch_size, cfg.lr, cfg.grad_clip, device, log)
    if cfg.pretrain_encoder_lm:
        pretraining["encoder_lm_loss"] = pretrain_encoder(
            net, train_pairs, src_vocab, cfg.pretrain_epochs, cfg.batch_size, cfg.lr, cfg.grad_clip, device, log)
    payload["pretraining"] = pretraining
    return _Start(net, cfg, src_vocab, tgt_vocab, payload, corpus, [], 0)


def _add_missing_tables(start: _Start) -> None:
    """The tables a bundle ships, for checkpoints written before each was stored."""
    payload, cfg, corpus = start.payload, start.cfg, start.corpus
    if "lexicon" not in payload:  # checkpoints written before shortlists lack it
        payload["lexicon"] = lexicon_payload(build_lexical_table(corpus.train_pairs, start.src_vocab,
                                                                 start.tgt_vocab))
    if "truecase" not in payload:  # nor truecasing (SentencePiece models keep the case themselves)
        payload["truecase"] = truecasing_for(cfg, corpus.raw)
    if "source_case" not in payload:  # nor the source side's casing (runtime/text.py)
        payload["source_case"] = source_casing_for(cfg, corpus.raw)


def _optimizer(net: Seq2Seq, cfg: TrainConfig, payload: dict):
    """Adam and its warmup schedule, in the checkpoint's state where it has one (a resumed
    --lr wins), and the checkpoint's random state."""
    optimizer = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup(cfg.warmup_steps))
    if "optimizer" in payload:
        optimizer.load_state_dict(payload["optimizer"])
    if "schedule" in payload:
        schedule.load_state_dict(payload["schedule"])
        schedule.base_lrs = [cfg.lr for _ in optimizer.param_groups]
        for group in optimizer.param_groups:
            group["initial_lr"] = cfg.lr
            group["lr"] = cfg.lr * warmup(cfg.warmup_steps)(schedule.last_epoch)
    if "torch_rng" in payload:
        torch.set_rng_state(payload["torch_rng"])
    return optimizer, schedule


def _save_epoch(start: _Start, out_dir: Path, epoch: int, state: dict, is_best: bool, log) -> None:
    """checkpoint.pt, best.pt when dev BLEU improved, the metrics line, and the averaged
    checkpoint."""
    net, cfg, history = start.net, start.cfg, state["history"]
    save_checkpoint(out_dir / LAST, net, cfg, start.src_vocab, start.tgt_vocab, **state)
    if is_best:
        save_checkpoint(out_dir / BEST, net, cfg, start.src_vocab, start.tgt_vocab, **state)
    with (out_dir / "metrics.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(history[-1]) + "\n")
    if cfg.average_last:
        keep_weights(net, out_dir, epoch + 1, cfg.average_last)
        averaged = average_weights(out_dir, cfg.average_last)
        save_checkpoint(out_dir / AVERAGED, averaged_model(net, averaged), cfg, start.src_vocab,
                        start.tgt_vocab, **state, averaged_last=cfg.average_last)


def _train(cfg: TrainConfig, data_path: Path, out_dir: Path, *, resume: bool, device: str,
           progress: bool, log, resume_settings: dict | None, init_from: Path | None,
           provenance: dict) -> dict:
    torch.manual_seed(cfg.seed)
    if resume and (out_dir / LAST).is_file():
        start = _resumed(cfg, data_path, out_dir, device, log, resume_settings, provenance)
    elif init_from is not None:
        start = _warm_started(cfg, data_path, out_dir, device, log, init_from, provenance)
    else:
        start = _fresh(cfg, data_path, out_dir, device, log, provenance)
    _add_missing_tables(start)
    net, cfg, src_vocab, tgt_vocab, payload, corpus, history, _ = start
    train_pairs, dev = corpus.train_pairs, corpus.dev
    best_bleu = max((h["dev_bleu"] for h in history), default=-1.0)
    log(f"{len(train_pairs)} training pairs, {len(dev.sources)} dev sentences, "
        f"vocabularies {len(src_vocab)}/{len(tgt_vocab)}, "
        f"{sum(p.numel() for p in net.parameters())} parameters")
    optimizer, schedule = _optimizer(net, cfg, payload)
    train_loss, dev_loss = MaskedSoftmaxCELoss(cfg.label_smoothing), MaskedSoftmaxCELoss()
    metrics = history[-1] if history else {}
    order = None if cfg.curriculum == "none" else difficulty_order(train_pairs, cfg.curriculum)
    augmenter = augmenter_for(cfg, corpus, log)
    drawn_at, drawn_epochs = -math.inf, len(history)
    for epoch in range(start.start_epoch, cfg.epochs):
        if stale_epochs(history) >= cfg.patience > 0:
            log(f"early stop: no better dev BLEU for {cfg.patience} epochs")
            break
        epoch_pairs = train_pairs if augmenter is None else augmented_epoch(augmenter, corpus, cfg, epoch, log)
        metrics = run_epoch(net, cfg, epoch, epoch_pairs, src_vocab, tgt_vocab, optimizer,
                            train_loss, device, progress, schedule, order)
        metrics.update(evaluate_dev(net, dev, src_vocab, tgt_vocab, dev_loss, device, corpus.tgt_tok.decode))
        history.append(metrics)
        log(json.dumps(metrics))
        state = dict(epoch=epoch, history=history, optimizer=optimizer.state_dict(),
                     schedule=schedule.state_dict(), torch_rng=torch.get_rng_state(),
                     data=payload["data"], spm_models=payload.get("spm_models"),
                     pretraining=payload.get("pretraining", {}), lexicon=payload["lexicon"],
                     truecase=payload["truecase"], source_case=payload["source_case"])
        is_best = metrics["dev_bleu"] > best_bleu
        best_bleu = max(best_bleu, metrics["dev_bleu"])
        _save_epoch(start, out_dir, epoch, state, is_best, log)
        # Drawing costs ~0.3 s: with epochs of a fraction of a second (the seed's 300) it
        # would cost more than training, so the figure is redrawn at most every CURVES_EVERY_S.
        if time.perf_counter() - drawn_at >= CURVES_EVERY_S:
            _plot_curves(history, out_dir / CURVES, log)
            drawn_at, drawn_epochs = time.perf_counter(), len(history)
    if len(history) != drawn_epochs:
        _plot_curves(history, out_dir / CURVES, log)  # the last epoch is always drawn
    return metrics


def augmenter_for(cfg: TrainConfig, corpus: Prepared, log=print) -> Augmenter | None:
    """The run's augmenter (train/augment.py), or None when every augmentation rate is 0.

    Its names are drawn only from characters that both sides of the training split use,
    so that every piece of a new name is one the tokenizers and vocabularies know."""
    rates = AugmentRates(cfg.augment_names, cfg.augment_numbers, cfg.augment_concat)
    if not rates.any:
        return None
    if cfg.model.tokenizer == "word":
        raise ValueError("--augment-*: needs --tokenizer sentencepiece (a word-level model has no "
                         "pieces to spell a new name or number with)")
    if cfg.curriculum != "none":
        raise ValueError("--augment-* and --curriculum: the curriculum orders the corpus's own pairs; "
                         "use one of them")
    known = [set("".join(side)) for side in zip(*corpus.train_raw)]
    names = corpus_names(corpus.train_raw)
    pool = name_pool(seed=cfg.seed, allowed=lambda name: all(ch in known[0] and ch in known[1] for ch in name))
    log(f"augmentation {rates}: {len(names)} corpus names ({', '.join(names[:6])}, ...), "
        f"{len(pool)} new names")
    return Augmenter(names, pool, rates)


def augmented_epoch(augmenter: Augmenter, corpus: Prepared, cfg: TrainConfig, epoch: int, log=print) -> list[Pair]:
    """This epoch's augmented training pairs, tokenized; joined lines longer than the
    model's num_steps are left out rather than cut."""
    texts = augmenter.epoch_pairs(corpus.train_raw, cfg.seed, epoch)
    threads = max(1, torch.get_num_threads())
    src = corpus.src_tok.encode_many([en for en, _ in texts], threads)
    tgt = corpus.tgt_tok.encode_many([fr for _, fr in texts], threads)
    originals = len(corpus.train_raw)
    pairs = [Pair(s, t) for i, (s, t) in enumerate(zip(src, tgt))
             if i < originals or max(len(s), len(t)) < cfg.model.num_steps]
    changed = sum(1 for a, b in zip(texts, corpus.train_raw) if a != b)
    log(f"epoch {epoch + 1}: {changed} pairs with swapped names or numbers, "
        f"{len(pairs) - originals} joined lines")
    return pairs


def sized_for(cfg: TrainConfig, src_vocab: Vocab, tgt_vocab: Vocab) -> TrainConfig:
    """`cfg` with its model's vocabulary sizes set from the vocabularies it will use."""
    return dataclasses.replace(cfg, model=dataclasses.replace(
        cfg.model, src_vocab_size=len(src_vocab), tgt_vocab_size=len(tgt_vocab)))


# What a warm start must share with the run it starts from: the same split, the same
# tokens. Anything else (attention, dropout, the schedule) may differ.
WARM_START_SHARED = ("dev_permille", "test_permille")
WARM_START_SHARED_MODEL = ("tokenizer", "cell", "embed_size", "hidden_size", "num_layers")


def warm_start(cfg: TrainConfig, path: Path, device: str, log=print):
    """A new model for `cfg` holding every weight of the checkpoint at `path` that fits.

    `path` may also be a bundle folder that `export.bundle_weights` can rebuild (an fp32
    unidirectional GRU bundle, such as the shipped default): fine-tuning a bundle needs
    no training run behind it.

    The tokenizers and vocabularies are the checkpoint's, so every inherited embedding
    row keeps its meaning; weights the new config adds (an attention layer, say) keep
    their fresh initialisation. Raises ValueError when the two runs do not share the
    split or the tokens (WARM_START_SHARED*): a dev or test sentence could then have been
    trained on.
    """
    from s2s_batch.export.bundle_weights import load_checkpoint_or_bundle  # export imports train

    base_net, base_cfg, src_vocab, tgt_vocab, base_payload = load_checkpoint_or_bundle(path, device)
    clashes = [f"{name} {getattr(base, name)} != {getattr(new, name)}"
               for base, new, names in ((base_cfg, cfg, WARM_START_SHARED),
                                        (base_cfg.model, cfg.model, WARM_START_SHARED_MODEL))
               for name in names if getattr(base, name) != getattr(new, name)]
    if clashes:
        raise ValueError(f"--init-from {path}: this run differs from it in {', '.join(clashes)}; "
                         "pass the same values")
    cfg = sized_for(cfg, src_vocab, tgt_vocab)
    net = Seq2Seq(cfg.model).to(device)
    own = net.state_dict()
    inherited = {name: tensor for name, tensor in base_net.state_dict().items()
                 if name in own and own[name].shape == tensor.shape}
    net.load_state_dict(inherited, strict=False)
    fresh = sorted(set(own) - set(inherited))
    log(f"warm start from {path}: {len(inherited)} tensors inherited, "
        f"{len(fresh)} fresh ({', '.join(fresh) or 'none'})")
    payload = {"spm_models": base_payload.get("spm_models"), "data": base_payload["data"],
               "pretraining": {"warm_start": {"from": str(path), "fresh": fresh}},
               **{key: base_payload[key] for key in ("lexicon", "truecase", "source_case") if key in base_payload}}
    return net, cfg, src_vocab, tgt_vocab, payload


def warmup(steps: int):
    """Learning-rate factor per update: linear from 1/steps up to 1, then 1."""
    return lambda update: min(1.0, (update + 1) / steps) if steps > 0 else 1.0


def stale_epochs(history: list[dict]) -> int:
    """Epochs since the best dev BLEU so far."""
    if not history:
        return 0
    best = max(range(len(history)), key=lambda i: (history[i]["dev_bleu"], -i))
    return len(history) - 1 - best


def keep_weights(net: Seq2Seq, out_dir: Path, epoch: int, last: int) -> None:
    """Save this epoch's weights as weights-epochN.pt; delete those older than `last` epochs."""
    with atomic_write(out_dir / f"weights-epoch{epoch}.pt") as f:
        torch.save(net.state_dict(), f)
    for path in out_dir.glob("weights-epoch*.pt"):
        if int(path.stem.removeprefix("weights-epoch")) <= epoch - last:
            path.unlink()


def average_weights(out_dir: Path, last: int) -> dict:
    """The element-wise mean of the newest `last` saved epoch weights."""
    paths = sorted(out_dir.glob("weights-epoch*.pt"),
                   key=lambda p: int(p.stem.removeprefix("weights-epoch")))[-last:]
    states = [torch.load(p, map_location="cpu", weights_only=True) for p in paths]
    return {name: sum(s[name] for s in states) / len(states) for name in states[0]}


def averaged_model(net: Seq2Seq, weights: dict) -> Seq2Seq:
    """A copy of `net` holding `weights`."""
    copy = Seq2Seq(net.config)
    copy.load_state_dict(weights)
    return copy


def _plot_curves(history: list[dict], path: Path, log) -> None:
    try:
        training_curves(history, path)
    except UsageError as exc:  # matplotlib missing: the run goes on without the figure
        log(f"no {path.name}: {exc}")


def run_epoch(net, cfg, epoch, train_pairs, src_vocab, tgt_vocab, optimizer, loss_fn, device,
              progress, schedule=None, curriculum_order=None) -> dict:
    """One pass over the training split; returns the epoch's loss and speed."""
    net.train()
    if curriculum_order is None:
        batches = epoch_batches(train_pairs, cfg, epoch)
    else:
        batches = curriculum_batches(train_pairs, curriculum_order, cfg.batch_size, cfg.seed, epoch,
                                     cfg.curriculum_steps, cfg.curriculum_start)
    net.set_precision(cfg.precision)
    autocast = torch.autocast(torch.device(device).type, dtype=torch.bfloat16,
                              enabled=cfg.precision != "fp32")
    total_loss, total_tokens, t0 = 0.0, 0, time.perf_counter()
    # A bar on a terminal; in a log file, a plain line every PLAIN_EVERY batches instead.
    live = progress and sys.stderr.isatty()
    bar = tqdm(batches, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not live,
               leave=False, mininterval=2.0)
    for done, batch in enumerate(bar, start=1):
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss, n_tokens = batch_loss(net, batch, src_vocab, tgt_vocab, loss_fn, device, cfg.adversarial)
        loss.backward()  # the seed backpropagates the sum over the batch
        torch.nn.utils.clip_grad_norm_(net.parameters(), cfg.grad_clip)
        optimizer.step()
        if schedule is not None:
            schedule.step()
        total_loss += loss.item()
        total_tokens += n_tokens
        elapsed = time.perf_counter() - t0
        bar.set_postfix(loss=f"{total_loss / total_tokens:.3f}", tok_s=f"{total_tokens / elapsed:.0f}")
        if progress and not live and done % PLAIN_EVERY == 0:
            print(f"epoch {epoch + 1}/{cfg.epochs}: {done}/{len(batches)} batches, "
                  f"loss {total_loss / total_tokens:.3f}, {total_tokens / elapsed:.0f} tokens/s",
                  file=sys.stderr, flush=True)
    elapsed = time.perf_counter() - t0
    return {"epoch": epoch + 1, "train_loss": round(total_loss / max(total_tokens, 1), 4),
            "tokens_per_s": round(total_tokens / elapsed), "seconds": round(elapsed, 1)}
