"""Translation on a Ray cluster: Ray Data reads the input, a pool of actors translates.

The driver reads the bundle's files and puts them in Ray's object store; each actor
writes them to its own temporary folder and loads them with their sha256 checks, so
workers need s2s-batch installed but no shared filesystem. The input is read on the
driver's node (a `local://` path) with the same line rules as a local run, translated
in blocks of `chunk_lines`, and the formatted blocks come back in input order to the
driver, which writes them through the same atomic output job as a local run.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import socket
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any

from s2s_batch.runtime.bundle.ensemble import ENSEMBLE_ON_RAY
from s2s_batch.runtime.bundle.graphs import cpu_quota
from s2s_batch.runtime.bundle.manifest import MANIFEST, member
from s2s_batch.runtime.errors import ClusterError, S2SError, UsageError
from s2s_batch.runtime.files.job import (
    InputFormat,
    NotableLines,
    count_lines,
    line_byte_limit,
    run_job,
    unchanged_input,
)
from s2s_batch.runtime.files.options import FileOptions
from s2s_batch.runtime.files.progress import Progress

try:
    import pyarrow as pa
    import ray
    import ray.data
    from ray.data.datasource import FileBasedDatasource
except ImportError:  # the `ray` extra is not installed
    ray = None  # type: ignore[assignment]
    FileBasedDatasource = object  # type: ignore[assignment,misc]

NOTABLE = ("split", "cropped", "capped")  # NotableLines' lists, as a block hands them back


def require_ray() -> None:
    """Fail with the fix when Ray is not installed."""
    if ray is None:
        raise ClusterError("--ray needs Ray Data, which is not installed; "
                           "from the s2s-batch clone, pip install '.[ray]'")


class SourceLines(FileBasedDatasource):
    """A text/jsonl/tsv file (gzip by extension) as rows {"source": sentence}, in blocks
    of `block_lines` lines, split and decoded exactly as a local run does.

    (Ray's read_text splits at every Unicode line break and decodes strictly, which would
    move lines; this reads with s2s-batch's own rules.)
    """

    def __init__(self, path: str, name: str, input_format: InputFormat, errors: str,
                 block_lines: int, skip_lines: int = 0, max_line_bytes: int | None = None):
        super().__init__(path)
        self.name, self.input_format = name, input_format
        self.errors, self.block_lines, self.skip_lines = errors, block_lines, skip_lines
        self.max_line_bytes = max_line_bytes

    def _read_stream(self, f, path: str):
        from s2s_batch.runtime.batching import chunks
        from s2s_batch.runtime.files.job import CroppedLine, read_lines

        lines = read_lines(f, self.name, self.errors, self.max_line_bytes)
        records = self.input_format.records(lines, self.name)
        for _ in itertools.islice(records, self.skip_lines):  # done by an interrupted run
            pass
        first = self.skip_lines
        for block in chunks(records, self.block_lines):
            # each row's line number (from 0), for formats that name it (n-best), and the
            # whole input line, for formats that keep its other fields
            numbers = pa.array(range(first, first + len(block)), type=pa.int64())
            yield pa.table({"source": pa.array([s for s, _ in block], type=pa.string()),
                            "record": pa.array([r for _, r in block], type=pa.string()),
                            "cut": pa.array([isinstance(s, CroppedLine) for s, _ in block], type=pa.bool_()),
                            "number": numbers})
            first += len(block)


class TranslateBlocks:
    """A Ray actor: one Translator of the shipped bundle; a batch in, its output bytes out."""

    def __init__(self, bundle_files, translator_settings: dict, options: FileOptions):
        from s2s_batch.runtime.translator import Translator

        files = ray.get(bundle_files[0])  # wrapped in a list so Ray hands over the ref
        self._folder = tempfile.TemporaryDirectory(prefix="s2s-bundle-")
        for name, data in files.items():
            member(Path(self._folder.name), name).write_bytes(data)  # plain names only
        self.translator = Translator(self._folder.name, **translator_settings)
        self.options = options

    def __call__(self, batch: dict) -> dict:
        from s2s_batch.runtime.files.job import CroppedLine, translate_chunk
        from s2s_batch.runtime.results import Stats

        sources = [CroppedLine(s) if cut else str(s) for s, cut in zip(batch["source"], batch["cut"])]
        before = Stats(**asdict(self.translator.stats))
        notable = NotableLines()  # this block's, handed back to the driver
        first_id = int(batch["number"][0]) if len(sources) else 0
        data = translate_chunk(self.translator, sources, [str(r) for r in batch["record"]], first_id + 1,
                               self.options, notable)
        stats = self.translator.stats
        out: dict = {"data": [data], "lines": [len(sources)]}
        for f in fields(stats):
            out[f.name] = [getattr(stats, f.name) - getattr(before, f.name)]
        for name in NOTABLE:
            out[name] = [json.dumps(getattr(notable, name))]
        return out


def _check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Fail fast on a HOST:PORT nobody listens on (ray.init would retry for minutes)."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "://" in address:
        return  # "auto" or a ray:// URL: Ray resolves it
    try:
        socket.create_connection((host, int(port)), timeout=timeout_s).close()
    except OSError as exc:
        raise ClusterError(f"cannot reach a Ray cluster at {address} ({exc.strerror or exc}); "
                           "check the address (HOST:PORT of `ray start --head`)") from None


@contextlib.contextmanager
def _quiet_stderr():
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def connect(address: str | None, num_cpus: int | None) -> None:
    """Join the cluster at `address`, or start a local Ray instance when it is None."""
    require_ray()
    # Ray's own progress and info lines would bury ours; its log files keep them.
    os.environ.setdefault("RAY_BACKEND_LOG_LEVEL", "fatal")
    # A worker's error comes back to us as one line; Ray Data would also print its traceback.
    logging.getLogger("ray").setLevel(logging.CRITICAL)
    for handler in logging.getLogger("ray.data").handlers:
        if handler.get_name() == "console":
            handler.setLevel(logging.CRITICAL)
    options: dict[str, Any] = dict(logging_level=logging.ERROR, log_to_driver=False,
                                   configure_logging=False)
    if address:
        _check_reachable(address)
    try:
        with _quiet_stderr():  # Ray's C++ core announces its log level on fd 2
            if address:
                ray.init(address=address, **options)
            else:
                ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **options)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        if "InvalidAuthToken" in str(exc) or "AuthenticationError" in repr(exc.__cause__):
            raise ClusterError(f"the Ray cluster at {address} requires token authentication; "
                               "set RAY_AUTH_MODE=token (the token comes from "
                               "~/.ray/auth_token or $RAY_AUTH_TOKEN)") from None
        raise ClusterError(f"cannot reach a Ray cluster at {address or 'a new local instance'} "
                           f"({str(exc).splitlines()[0]}); check the address "
                           "(HOST:PORT of `ray start --head`)") from None


def translate_file_on_ray(translator, src, dst, options: FileOptions, *, address: str | None = None,
                          actors: int | None = None, threads: int = 1, notable: NotableLines | None = None):
    """Translate src to dst as Translator.translate_file does, on Ray actors; returns Stats
    (the first lines split, cropped and capped go to `notable`, as in a local run).

    The output is byte-identical to a local run's. `translator` is the driver's loaded
    (so already checked) bundle, which is what ships to the workers; `address` None
    starts a local Ray instance; `actors` None means one per CPU of the cluster; each
    actor runs onnxruntime on `threads` CPUs (and one GPU when the translator's device
    is cuda).
    """
    from s2s_batch.runtime.results import Stats

    if str(src) == "-":
        raise UsageError("--ray reads an input file, not stdin; save the input to a file")
    if translator.ensemble_manifests:
        raise UsageError(ENSEMBLE_ON_RAY)
    options.check_paths(src, dst)
    progress = Progress.for_input(src, options.progress, count_lines)
    connect(address, None if address else cpu_quota())
    stats = Stats()
    try:
        def produce(lines_done: int):
            yield from _translated_blocks(translator, src, options, skip_lines=lines_done,
                                          actors=actors or default_actors(), threads=threads,
                                          stats=stats, notable=notable)

        run_job(src, dst, options.job_key(translator, src, dst), options.resume,
                lambda lines_done: unchanged_input(src, produce(lines_done)), progress)
    finally:
        ray.shutdown()
    return stats


def _translated_blocks(translator, src, options: FileOptions, *, skip_lines: int, actors: int,
                       threads: int, stats, notable: NotableLines | None) -> Iterator[tuple[bytes, int]]:
    """(output bytes, line count) per block of src, in order; the workers' counts go to stats."""
    bundle = translator.manifest
    files = {name: bundle.path(name).read_bytes() for name in [*bundle.files, MANIFEST]}
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True  # output line N answers input line N
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    source = SourceLines(str(Path(src).resolve()), str(src), options.input_format, options.errors,
                         options.chunk_lines, skip_lines, line_byte_limit(translator, options.input_format))
    # The input is read where it is, on this node (no shared filesystem assumed). Reading
    # is light: with no CPU asked, it never waits for the actors to free one.
    here = ray.get_runtime_context().get_node_id()
    dataset = ray.data.read_datasource(source, num_cpus=0, label_selector={"ray.io/node-id": here})
    settings = {**translator.settings(), "threads": threads,
                "inter_threads": min(translator.inter_threads, threads)}
    translated = dataset.map_batches(
        TranslateBlocks, batch_size=options.chunk_lines, compute=ray.data.ActorPoolStrategy(size=actors),
        num_cpus=threads,
        # Ray Data's actor pools restart an actor whose process dies and retry its blocks
        # (max_restarts and max_task_retries default to -1 there; passing them is
        # deprecated): translation is deterministic, so the output is the same bytes.
        # tests/runtime/test_ray.py kills an actor mid-run to hold Ray to it.
        num_gpus=1 if translator.device == "cuda" else None,
        fn_constructor_kwargs=dict(bundle_files=[ray.put(files)], translator_settings=settings,
                                   options=options))
    try:
        for row in translated.iter_rows():
            stats.add(type(stats)(**{f.name: int(row[f.name]) for f in fields(stats)}))
            if notable is not None:
                notable.merge(**{name: json.loads(row[name]) for name in NOTABLE})
            yield bytes(row["data"]), int(row["lines"])
    except Exception as exc:
        cause = _user_error_in(exc)
        if cause is not None:
            raise cause from None
        raise


def _user_error_in(exc: BaseException | None) -> S2SError | None:
    """The S2SError (bad input line, bad bundle) that a worker raised, if any."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        inner = getattr(exc, "cause", None)  # a RayTaskError holds the worker's exception
        if isinstance(inner, BaseException):
            exc = inner
            continue
        if isinstance(exc, S2SError):
            # Ray may hand back a class derived from both its RayTaskError and ours, and
            # appends lines about its retries to the message, which is one line of ours.
            mine = next(c for c in type(exc).__mro__ if c.__module__.startswith("s2s_batch"))
            return mine(str(exc.args[0]).split("\n")[0] if exc.args else "")
        exc = exc.__cause__ or exc.__context__
    return None


def default_actors() -> int:
    """One actor per CPU of the cluster."""
    return max(1, int(ray.cluster_resources().get("CPU", 1)))
