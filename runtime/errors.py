"""Errors a user can cause, each with a stable exit code (documented in docs/cli.md)."""

from __future__ import annotations

from collections.abc import Mapping


class S2SError(Exception):
    """A user-facing problem; its message names the problem and the fix."""

    exit_code = 1


class UsageError(S2SError):
    """Options that cannot work together."""

    exit_code = 2


class Interrupted(S2SError):
    """Stopped by SIGINT; the partial output is kept for --resume."""

    exit_code = 130


class InputError(S2SError):
    """Unreadable or undecodable input."""

    exit_code = 3


class BundleError(S2SError):
    """A missing, corrupt or incompatible model bundle."""

    exit_code = 4


class DeviceError(S2SError):
    """The requested device or execution provider is not available."""

    exit_code = 5


class OutputError(S2SError):
    """The output cannot be written."""

    exit_code = 6


class ClusterError(S2SError):
    """The Ray cluster cannot be reached, or Ray is not installed."""

    exit_code = 7


class ClosedError(RuntimeError):
    """A Translator used after close() (a programming error, not a user's: no exit code)."""


class OptionError(ValueError):
    """A bad option value or combination. The message names each option as a {field}
    placeholder: str() gives the library's field names, `spelled` a caller's own (the
    CLI's flags)."""

    def __init__(self, template: str):
        self.template = template
        super().__init__(self.spelled({}))

    def spelled(self, names: Mapping[str, str]) -> str:
        """The message with each {field} written as `names` spells it (else the field)."""
        return self.template.format_map(_Spelling(names))


class _Spelling(dict):
    def __missing__(self, key: str) -> str:
        return key
