"""Training configuration and the named presets."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from s2s_batch.runtime.bundle.config import ModelConfig

PRECISIONS = ("fp32", "bf16", "bf16-fp32-cells")
DISTILL_SELECTIONS = ("best", "closest")
SPM_MODEL_TYPES = ("bpe", "unigram")
CURRICULA = ("none", "length", "rarity")


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    """ValueError naming the setting and its choices when `value` is not one of them."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


def _opt(default, help_text, choices: tuple[str, ...] = ()):
    return field(default=default, metadata={"help": help_text, "choices": choices})


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of a training run; `model` holds the architecture."""

    model: ModelConfig = field(default_factory=ModelConfig)
    batch_size: int = _opt(128, "sentence pairs per batch")
    lr: float = _opt(0.002, "Adam learning rate")
    epochs: int = _opt(12, "passes over the training split")
    grad_clip: float = _opt(1.0, "gradient clipping: maximum global norm")
    min_freq: int = _opt(5, "keep tokens seen at least this often in training")
    max_pairs: int = _opt(0, "train on the first N training pairs of the corpus (0: all)")
    dev_permille: int = _opt(20, "share of distinct English sentences held out for dev, per mille")
    test_permille: int = _opt(20, "share of distinct English sentences held out for test, per mille")
    dev_limit: int = _opt(1000, "dev sentences scored each epoch, evenly spaced (0: all)")
    seed: int = _opt(0, "random seed for initialisation and batch order")
    spm_vocab_size: int = _opt(8000, "--tokenizer sentencepiece: pieces per language")
    # bpe by default: sentencepiece 0.2's unigram trainer cut the last letter off frequent
    # words of this corpus ("▁Nou" "s", a lone "▁" before "à"; compare google/sentencepiece#1047).
    spm_model_type: str = _opt("bpe", "--tokenizer sentencepiece: bpe or unigram", SPM_MODEL_TYPES)
    curriculum: str = _opt("none", "curriculum learning: none, length or rarity (easiest pairs first, "
                                   "competence growing as a square root)", CURRICULA)
    curriculum_steps: int = _opt(5000, "curriculum: updates until every pair is admitted")
    curriculum_start: float = _opt(0.01, "curriculum: the share of pairs admitted at the first update")
    adversarial: float = _opt(0.0, "adversarial training: also train on embeddings perturbed by this "
                                   "L2 norm along the loss gradient (0: off)")
    pretrain_decoder_lm: bool = _opt(False, "first train the decoder as a target-side language model")
    pretrain_encoder_lm: bool = _opt(False, "first train the encoder as a source-side language model")
    pretrain_epochs: int = _opt(1, "epochs of each language-model pretraining")
    label_smoothing: float = _opt(0.0, "label smoothing of the training loss (dev loss stays plain)")
    warmup_steps: int = _opt(0, "linear learning-rate warmup over this many updates (0: none)")
    patience: int = _opt(0, "early stopping: stop after this many epochs without a better dev BLEU (0: never)")
    precision: str = _opt("fp32", "training arithmetic: fp32; bf16 (autocast: matmuls in bfloat16, "
                                  "weights and optimizer in float32; fast on CPUs with AVX512-BF16 or AMX); "
                                  "bf16-fp32-cells (bf16 except the recurrent cells). Export is float32 either way",
                           PRECISIONS)
    distill_from: str = _opt("", "sequence-level knowledge distillation: a teacher bundle folder whose "
                                 "beam-search translations of the training split's English become the "
                                 "training targets (dev and test keep the references); several folders "
                                 "separated by commas are one ensemble teacher (their log-probabilities "
                                 "averaged at each step; they must share tokenizers and vocabularies)")
    distill_beam_size: int = _opt(4, "--distill-from: the teacher's beam size")
    distill_length_penalty: float = _opt(1.0, "--distill-from: the teacher's length penalty")
    distill_keep_references: bool = _opt(False, "--distill-from: train on the corpus's references "
                                                "too, beside the teacher's translations")
    distill_select: str = _opt("best", "--distill-from: each sentence's target: best (the teacher's best "
                                       "hypothesis; Seq-KD) or closest (of its n-best, beam-size many, the "
                                       "one nearest the sentence's references by sentence BLEU; Seq-Inter)",
                                DISTILL_SELECTIONS)
    augment_names: float = _opt(0.0, "augmentation: share of the pairs holding a corpus name (Tom, Boston...) "
                                     "whose names are swapped, on both sides, for names from Faker's lists")
    augment_numbers: float = _opt(0.0, "augmentation: share of the pairs holding a number both sides write "
                                       "(7 / 7, two / deux) whose numbers become random ones (1,250 / 1 250)")
    augment_concat: float = _opt(0.0, "augmentation: extra examples per training pair that join 2-3 random "
                                      "pairs into one long line (0.1: 10% more examples)")
    average_last: int = _opt(0, "also write averaged.pt, the mean of the last N epochs' weights (0: off)")

    def __post_init__(self):
        for f in dataclasses.fields(self):
            if f.metadata.get("choices"):
                check_choice(f.name, getattr(self, f.name), f.metadata["choices"])

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        data = dict(data)
        model = ModelConfig.from_dict(data.pop("model"))
        return cls(model=model, **data)


# The seed recipe (D2L's seq2seq chapter) and the default model's recipe.
PRESETS: dict[str, dict] = {
    "d2l": {
        "model": {
            "cell": "gru", "embed_size": 32, "hidden_size": 32, "num_layers": 2,
            "dropout": 0.1, "num_steps": 10, "pad_source": True, "max_decode_len": 10,
        },
        "batch_size": 64, "lr": 0.005, "epochs": 300, "max_pairs": 600, "min_freq": 2,
    },
    "default": {},
}


def make_config(preset: str = "default", **overrides) -> TrainConfig:
    """A TrainConfig from a preset plus overrides; model fields may be given flat."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    base = PRESETS[preset]
    model_fields = {f.name for f in dataclasses.fields(ModelConfig)}
    model_kw = dict(base.get("model", {}))
    train_kw = {k: v for k, v in base.items() if k != "model"}
    for key, value in overrides.items():
        if value is None:
            continue
        (model_kw if key in model_fields else train_kw)[key] = value
    return TrainConfig(model=ModelConfig(**model_kw), **train_kw)
