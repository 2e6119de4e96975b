"""The names of the bundle graphs' inputs and outputs: spelled here and nowhere else.

The encoder reads SRC [B, T] and SRC_LEN [B] and returns the recurrent state (STATES of
the cell) and what the decoder step reads of the source (CONTEXT, or MEMORY,
MEMORY_KEYS and SRC_MASK with attention). The decoder step reads TOKENS [B], the state
and that memory, and returns LOGITS, NEXT_TOKEN, each state's `state_output(name)` and,
with attention, ATTENTION. The optional inputs of the step are in runtime/bundle/manifest.py
beside the bundle files.
"""

from __future__ import annotations

SRC, SRC_LEN = "src", "src_len"
TOKENS, LOGITS, NEXT_TOKEN, ATTENTION = "tokens", "logits", "next_token", "attention"
# The recurrent state: h, and c for an LSTM.
HIDDEN, CELL_STATE = "h", "c"
# What the decoder reads of the source: the seed's fixed context, or with attention the
# encoder outputs, their keys and the source mask.
CONTEXT = "context"
MEMORY, MEMORY_KEYS, SRC_MASK = "memory", "memory_keys", "src_mask"
# The decoder loop step's (export/loop_step.py) extra values: carried from step to step
# (each with its `state_output`), FINISHED [B] bool, STEP [] and HISTORY [B, T]; constant
# through a batch, CAPS [B], POSITIONS [T], MIN_LEN [], LOGIT_BIAS and EARLY_BIAS [V].
FINISHED, STEP, HISTORY = "finished", "step", "history"
CAPS, POSITIONS, MIN_LEN, LOGIT_BIAS, EARLY_BIAS = "caps", "positions", "min_len", "logit_bias", "early_bias"


# Each graph value's element type and rank, checked when a bundle loads (a state's new
# value, `state_output(name)`, as the state).
_FLOAT, _INT64 = "tensor(float)", "tensor(int64)"
IO_TYPES = {SRC: (_INT64, 2), SRC_LEN: (_INT64, 1), TOKENS: (_INT64, 1), NEXT_TOKEN: (_INT64, 1),
            LOGITS: (_FLOAT, 2), ATTENTION: (_FLOAT, 2), HIDDEN: (_FLOAT, 3), CELL_STATE: (_FLOAT, 3),
            CONTEXT: (_FLOAT, 2), MEMORY: (_FLOAT, 3), MEMORY_KEYS: (_FLOAT, 3), SRC_MASK: (_FLOAT, 2)}


def expected_type(name: str) -> tuple[str, int] | None:
    """(element type, rank) a graph value of this name must have; None for other names."""
    if name.endswith("_out") and name[: -len("_out")] in (HIDDEN, CELL_STATE):
        name = name[: -len("_out")]
    return IO_TYPES.get(name)


def state_output(name: str) -> str:
    """The decoder step's output name for the new value of state `name`."""
    return f"{name}_out"
