"""Output that appears whole or not at all, and that a killed run can resume.

Chunks are appended to a hidden partial file beside the output; after each chunk the
partial file is fsynced and then a progress sidecar records how many input lines and
bytes it holds. Only a completed run renames the partial file onto the output path, so
that path holds either nothing or a complete file (the previous one, or the new one).
An output named *.gz gets each chunk as its own gzip member: concatenated members are
one valid gzip file, and a resumed run can cut the partial file at a chunk boundary.
A run holds an exclusive lock on `.DST.lock` while it writes, so a second run on the same
output is refused at once; the kernel drops the lock when its process dies, even by
SIGKILL, so a killed run's lock never blocks --resume.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import json
import os
import stat
import sys
import tempfile
import threading
from pathlib import Path
from typing import BinaryIO

from s2s_batch.runtime.errors import OutputError, UsageError

PROGRESS_VERSION = 1


@contextlib.contextmanager
def atomic_write(path: Path):
    """A binary file that replaces `path` only once written and fsynced; on error, nothing.
    It gets the mode `path` had, or a new file's (not mkstemp's 0600)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            try:
                mode = stat.S_IMODE(os.stat(path).st_mode)
            except OSError:
                mode = readable_mode(0o666)
            with contextlib.suppress(OSError):  # a filesystem without modes keeps its own
                os.fchmod(f.fileno(), mode)
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fsync_folder(path.parent)
    finally:
        Path(tmp).unlink(missing_ok=True)


def readable_mode(mode: int) -> int:
    """`mode` less the process's umask: what open() or mkdir() would give a new file or
    folder, for those made by mkstemp or mkdtemp (0600 and 0700)."""
    return mode & ~_umask()


_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process's umask, read from /proc where it can be (Linux 4.7+): setting it to
    read it back would let another thread's file get the wrong mode meanwhile."""
    with contextlib.suppress(OSError, ValueError, StopIteration):
        with open("/proc/self/status", encoding="ascii", errors="replace") as status:
            return int(next(line for line in status if line.startswith("Umask:")).split()[1], 8)
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def fsync_folder(folder: Path) -> None:
    """Make a rename in `folder` durable: a power cut after it keeps the new name."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class OutputLock:
    """An exclusive, non-blocking lock on `.DST.lock` that names its holder's pid."""

    def __init__(self, dst: Path):
        self.path = dst.with_name(f".{dst.name}.lock")
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
                os.close(fd)
                raise OutputError(f"{dst}: another run (pid {holder}) is writing this output; wait "
                                  "for it to finish, or write to another -o path") from None
            # The holder before us may have removed the file after we opened it: the lock
            # then guards nothing, so take the file that is there now.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self.fd: int | None = fd

    def release(self) -> None:
        """Remove the lock file, then unlock (in that order: no one locks a removed file)."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None


class StdoutJob:
    """Chunks straight to stdout; nothing to resume."""

    lines_done = 0

    def __init__(self, resume: bool):
        if resume:
            raise UsageError("--resume needs an output file (-o PATH), not stdout")

    def write_chunk(self, data: bytes, n_lines: int) -> None:
        """Write a chunk's bytes to stdout and flush them, so a reader gets them now."""
        if sys.stdout is None:
            raise OutputError("stdout is closed; write the output to a file with -o PATH")
        try:
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            raise  # the reader went away: the CLI stops quietly, as Unix tools do
        except OSError as exc:
            raise OutputError(f"stdout: writing failed ({exc.strerror}); write the output to a "
                              "file with -o PATH") from None
        self.lines_done += n_lines

    def commit(self) -> None:
        """Nothing to do: stdout was written as it went."""
        pass

    def abort(self, keep_for_resume: bool) -> None:
        """Nothing to undo: what was written to stdout stays written."""
        pass


class StreamJob:
    """Chunks straight into an existing file that is not a regular one (a character
    device such as /dev/null, a FIFO, a socket): written as a stream, never replaced."""

    lines_done = 0

    def __init__(self, dst: Path, resume: bool):
        if resume:
            raise UsageError(f"{dst}: --resume needs a regular output file; this is a device or a pipe")
        try:
            self.file = open(dst, "wb", buffering=0)  # noqa: SIM115 - closed in commit/abort
        except OSError as exc:
            raise OutputError(f"{dst}: cannot write output ({exc.strerror})") from None
        self.dst = dst

    def write_chunk(self, data: bytes, n_lines: int) -> None:
        """Write a chunk's bytes now, so a reader gets them."""
        try:
            self.file.write(data)
        except OSError as exc:
            raise OutputError(f"{self.dst}: writing failed ({exc.strerror})") from None
        self.lines_done += n_lines

    def commit(self) -> None:
        """Close the stream."""
        self.file.close()

    def abort(self, keep_for_resume: bool) -> None:
        """Close the stream: what was written stays written."""
        self.file.close()


def progress_record(dst) -> Path:
    """Where a run writing dst records its completed chunks, until it finishes."""
    dst = Path(dst)
    return dst.with_name(f".{dst.name}.progress.json")


def partial_file(dst) -> Path:
    """Where a run writing dst appends its chunks, until it finishes."""
    dst = Path(dst)
    return dst.with_name(f".{dst.name}.partial")


def lines_saved(dst) -> int:
    """How many input lines an unfinished run on dst has recorded as done (0: none, or
    an unreadable record, which --resume refuses with its own message)."""
    try:
        lines = json.loads(progress_record(dst).read_text(encoding="utf-8")).get("lines", 0)
    except (OSError, ValueError, UnicodeDecodeError, AttributeError):
        return 0
    return lines if isinstance(lines, int) and lines > 0 else 0


def discard_unfinished(dst) -> None:
    """Remove an unfinished run's partial file and its record, so the next run starts over."""
    partial_file(dst).unlink(missing_ok=True)
    progress_record(dst).unlink(missing_ok=True)


class FileJob:
    """Chunks to DST via `.DST.partial`, progress in `.DST.progress.json`. A DST that
    exists keeps its permissions (the new file takes its mode)."""

    def __init__(self, dst: Path, job_key: dict, resume: bool):
        self.dst = Path(dst)
        self.partial = partial_file(self.dst)
        self.progress = progress_record(self.dst)
        self.job_key = job_key
        self.compress = self.dst.name.endswith(".gz")
        self.lines_done, self.bytes_done = 0, 0
        self._ended = False
        try:
            self.lock = OutputLock(self.dst)
        except OSError as exc:
            raise OutputError(f"{self.dst}: cannot write output ({exc.strerror}); check the folder "
                              "exists and is writable") from None
        try:
            if resume and self.progress.is_file():
                self._reopen()
            else:
                self.file: BinaryIO = open(self.partial, "wb")
        except OSError as exc:
            self.lock.release()
            raise OutputError(f"{self.dst}: cannot write output ({exc.strerror}); check the folder "
                              "exists and is writable") from None
        except UsageError:
            self.lock.release()
            raise

    def _reopen(self) -> None:
        try:
            saved = json.loads(self.progress.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError):
            saved = {}
        if saved.get("version") != PROGRESS_VERSION or saved.get("job") != self.job_key:
            raise UsageError(f"{self.progress}: the interrupted run had another input, bundle or "
                             "options; rerun without --resume to start over")
        if not self.partial.is_file() or self.partial.stat().st_size < saved["bytes"]:
            raise UsageError(f"{self.partial}: missing or shorter than its progress record; "
                             "rerun without --resume to start over")
        self.lines_done, self.bytes_done = saved["lines"], saved["bytes"]
        self.file = open(self.partial, "r+b")
        self.file.truncate(self.bytes_done)  # drop a chunk written after the last record
        self.file.seek(self.bytes_done)

    def write_chunk(self, data: bytes, n_lines: int) -> None:
        """Append a chunk, make it durable, then record it. A failed write keeps what the
        record says is done (the partial file cut back to it), so that --resume goes on
        once the cause (a full disk) is gone."""
        if self.compress:
            data = gzip.compress(data, mtime=0)  # mtime 0: a resumed run is byte-identical
        try:
            self.file.write(data)
            self.file.flush()
            os.fsync(self.file.fileno())
            with atomic_write(self.progress) as f:
                f.write(json.dumps({"version": PROGRESS_VERSION, "job": self.job_key,
                                    "lines": self.lines_done + n_lines,
                                    "bytes": self.bytes_done + len(data)}).encode())
        except OSError as exc:
            raise OutputError(f"{self.dst}: writing failed ({exc.strerror}); "
                              f"{self._keep_recorded()}") from None
        self.lines_done += n_lines
        self.bytes_done += len(data)

    def _keep_recorded(self) -> str:
        """After a failed write: cut the partial file back to the last recorded chunk and
        keep both for --resume (a job that cannot resume, or has no chunk done, keeps
        nothing); says what was kept."""
        keep = bool(self.job_key) and self.lines_done > 0
        self.abort(keep_for_resume=keep)
        if keep:
            with contextlib.suppress(OSError):  # --resume cuts it back to the record too
                os.truncate(self.partial, self.bytes_done)
            return (f"the {self.lines_done:,} lines done are kept: free space and rerun with --resume")
        return "no output was left behind"

    def commit(self) -> None:
        """Put the complete output in place and forget the progress record."""
        try:
            self.file.close()
            with contextlib.suppress(FileNotFoundError):
                os.chmod(self.partial, stat.S_IMODE(os.stat(self.dst).st_mode))
            os.replace(self.partial, self.dst)
        except OSError as exc:
            keep = bool(self.job_key)
            self.abort(keep_for_resume=keep)
            rerun = "; it is kept: rerun with --resume to put it in place" if keep else ""
            raise OutputError(f"{self.dst}: cannot move the finished output into place "
                              f"({exc.strerror}){rerun}") from None
        self._ended = True
        with contextlib.suppress(OSError):  # in place already; the folder's fsync is for durability
            fsync_folder(self.dst.parent)
        self.progress.unlink(missing_ok=True)
        self.lock.release()

    def abort(self, keep_for_resume: bool) -> None:
        """Close; keep the partial file and its record for --resume, or remove both. Only
        the first call acts (a failed write has already decided)."""
        if self._ended:
            return
        self._ended = True
        with contextlib.suppress(OSError):  # a full disk fails the flush; the record says what counts
            self.file.close()
        if not keep_for_resume:
            self.partial.unlink(missing_ok=True)
            self.progress.unlink(missing_ok=True)
        self.lock.release()


def open_job(dst, job_key: dict, resume: bool):
    """The output job for a path, or for '-' (stdout): a device or a pipe is written as a
    stream, a link to a regular file writes its target; see check_output for the refusals."""
    if str(dst) == "-":
        return StdoutJob(resume)
    check_output(dst)
    path = Path(dst)
    if path.exists() and not stat.S_ISREG(os.stat(path).st_mode):
        return StreamJob(path, resume)
    return FileJob(Path(os.path.realpath(path)) if path.is_symlink() else path, job_key, resume)


def check_output(dst, src=None) -> None:
    """Refuse, before any work, an output that cannot be written as one: an empty name, a
    folder, or the input itself (also through a link)."""
    if str(dst) == "-":
        return
    if not str(dst):
        raise UsageError("-o '': an empty output name; give a file path, or - for stdout")
    path = Path(dst)
    if path.is_dir():
        raise UsageError(f"{dst}: is a folder; give a file path, e.g. -o {path / 'output.txt'}")
    if src is not None and str(src) != "-" and path.exists():
        with contextlib.suppress(OSError):
            if os.path.samefile(src, path):
                raise UsageError(f"{dst}: is the input itself; write the translation to another path")
