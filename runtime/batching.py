"""Length-sorted batches that remember where each sentence came from, and the chunks of
lines a stream is read in."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

# The translator's built-in batching defaults, which the CLI shows too (one place for each).
DEFAULT_BATCH_SIZE = 256
DEFAULT_BATCH_TOKENS = 4096  # with batch_type="tokens"
# Source tokens read per sentence (CTranslate2's max_input_length, and its default): the
# encoder graph runs to each row's length, so the training length is no limit.
DEFAULT_MAX_INPUT_LENGTH = 1024


def _longest_first(lengths, limit: int, limit_name: str) -> tuple[np.ndarray, np.ndarray]:
    """(the lengths as int64, their indices longest first, ties in input order): the order
    every batching here cuts; ValueError unless `limit` (its size limit) is at least 1."""
    if limit < 1:
        raise ValueError(f"{limit_name} must be at least 1, got {limit}")
    lengths = np.asarray(lengths, dtype=np.int64)
    return lengths, np.argsort(-lengths, kind="stable")


def sorted_batches(lengths: Sequence[int], batch_size: int) -> list[np.ndarray]:
    """Indices grouped into batches of similar length (longest first), to pad little."""
    _, order = _longest_first(lengths, batch_size, "batch size")
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


# For several batch streams (each takes the next batch when it finishes): every batch is
# at most a third of a stream's share of the input, and at the end at most what is left
# over the streams, down to TAIL_FLOOR rows, so that the streams finish together
# (bench/batch_balance.py, 2 streams: against one batch per stream, 24% more sentences/s
# at 200 lines, 28% at 500, 5% at 1,000, 1-2% at 2,000).
BATCHES_PER_STREAM = 3
TAIL_FLOOR = 32


def stream_batches(lengths: Sequence[int], batch_size: int, streams: int) -> list[np.ndarray]:
    """sorted_batches for `streams` streams that share the batches as they finish: the
    same length order, each batch at most batch_size, smaller towards the end."""
    if streams <= 1:
        return sorted_batches(lengths, batch_size)
    _, order = _longest_first(lengths, batch_size, "batch size")
    cap = min(batch_size, -(-len(order) // (BATCHES_PER_STREAM * streams)))
    batches, start = [], 0
    while start < len(order):
        size = min(cap, max(TAIL_FLOOR, -(-(len(order) - start) // streams)))
        batches.append(order[start : start + size])
        start += size
    return batches


def token_batches(lengths: Sequence[int], max_tokens: int) -> list[np.ndarray]:
    """Indices in length-sorted batches (longest first) of at most `max_tokens` padded
    source tokens each (rows x the batch's longest row); a longer row is a batch alone."""
    sizes, order = _longest_first(lengths, max_tokens, "max_tokens")
    batches, start = [], 0
    while start < len(order):
        longest = max(int(sizes[order[start]]), 1)
        size = max(1, max_tokens // longest)
        batches.append(order[start : start + size])
        start += size
    return batches


def length_chunks(lengths: np.ndarray, max_rows: int, run_tokens: float) -> list[np.ndarray]:
    """The rows of one batch in chunks of at most `max_rows`, longest first, for an encoder
    that pads each chunk to its own longest row: a chunk ends where the length drops,
    unless the next run of rows of one length would add at most `run_tokens` padding
    tokens (what one more encoder run costs, counted in tokens)."""
    lengths, order = _longest_first(lengths, max_rows, "chunk size")
    ordered = lengths[order]
    runs = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]]).tolist() if len(order) else []
    chunks: list[np.ndarray] = []
    start = 0
    for run_start, run_end in zip(runs, [*runs[1:], len(order)]):
        if run_start > start and (run_end - run_start) * (ordered[start] - ordered[run_start]) > run_tokens:
            chunks.append(order[start:run_start])
            start = run_start
        while run_end - start > max_rows:
            chunks.append(order[start : start + max_rows])
            start += max_rows
    if start < len(order):
        chunks.append(order[start:])
    return chunks


def pad_batch(rows: Sequence[Sequence[int]], pad: int, width: int | None = None):
    """(ids [B, width] int64, lengths [B] int64) from ragged id lists."""
    lengths = np.array([len(r) for r in rows], dtype=np.int64)
    width = width or int(lengths.max())
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = r
    return ids, lengths


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """Consecutive lists of `size` items (the last may be shorter)."""
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


_END = object()


def answering_chunks(items: Iterable[T], size: int, wait: float) -> Iterator[list[T]]:
    """Consecutive lists of at most `size` items, each handed on as soon as no new item
    has come for `wait` seconds: a person typing into a pipe gets each line answered, and
    a stream that comes fast still fills whole chunks. Items are read on a thread; an
    error raised while reading them is raised here, after the items before it."""
    pending: queue.Queue = queue.Queue(maxsize=2 * size)

    def read() -> None:
        try:
            for item in items:
                pending.put((item, None))
            pending.put((_END, None))
        except BaseException as exc:  # handed to the consumer, raised there
            pending.put((_END, exc))

    threading.Thread(target=read, name="s2s-batch-reader", daemon=True).start()
    chunk: list[T] = []
    while True:
        try:
            item, error = pending.get(timeout=wait) if chunk else pending.get()
        except queue.Empty:
            yield chunk
            chunk = []
            continue
        if item is _END:
            if chunk:
                yield chunk
            if error is not None:
                raise error
            return
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
