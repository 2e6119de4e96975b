"""Defaults from a `s2s-batch.toml` file, handed to click as its default_map.

A flag on the command line wins over an environment variable (S2S_BUNDLE, S2S_DEVICE),
which wins over the file, which wins over the built-in default.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import click

from s2s_batch.runtime.errors import UsageError

# The most threads --threads and --inter-threads take (SentencePiece and onnxruntime take
# their counts as C ints; far beyond any machine's cores).
MAX_THREADS = 4096

CONFIG_FILE = "s2s-batch.toml"
CONFIG_ENV = "S2S_CONFIG"
PATH_KEYS = ("bundle",)  # resolved against the file's folder, not the working directory
# Config keys of options that a command takes repeatedly, under its parameter's name.
REPEATED = {"bundle": "bundles"}


def find_config(explicit: str | None) -> Path | None:
    """--config, else $S2S_CONFIG, else ./s2s-batch.toml if it exists."""
    if explicit:
        return Path(explicit)
    if os.environ.get(CONFIG_ENV):
        return Path(os.environ[CONFIG_ENV])
    local = Path(CONFIG_FILE)
    return local if local.is_file() else None


def load_defaults(path: Path, commands: dict) -> dict:
    """{command: {option: value}} from a TOML file.

    Top-level keys apply to every command that has the option; a [command] table to that
    command only. Keys are option names, with '-' or '_'. An unknown key is an error.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"{path}: cannot read the config file ({exc.strerror}); "
                         "check --config or $S2S_CONFIG") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not valid TOML ({exc}); fix the config file") from None
    shared = {k: v for k, v in data.items() if not isinstance(v, dict)}
    tables = {k: v for k, v in data.items() if isinstance(v, dict)}
    for name in tables:
        if name not in commands:
            raise UsageError(f"{path}: unknown table [{name}]; the commands are "
                             f"{', '.join(sorted(commands))}")
    names = {cmd: {p.name for p in command.params} for cmd, command in commands.items()}
    for params in names.values():  # translate's --bundle may be repeated: its parameter is "bundles"
        params.update(alias for alias, param in REPEATED.items() if param in params)
    for key in shared:
        if not any(_key(key) in n for n in names.values()):
            raise UsageError(f"{path}: unknown option {key!r}; see s2s-batch COMMAND --help")
    defaults = {}
    for cmd in commands:
        chosen = {_key(k): v for k, v in shared.items() if _key(k) in names[cmd]}
        for key, value in tables.get(cmd, {}).items():
            if _key(key) not in names[cmd]:
                raise UsageError(f"{path}: [{cmd}] has no option {key!r}; see s2s-batch {cmd} --help")
            chosen[_key(key)] = value
        by_name = {p.name: p for p in commands[cmd].params}
        for key, value in chosen.items():
            param = by_name.get(REPEATED.get(key, key))
            if param is not None:
                _check_value(path, key, value, param)
        for key in PATH_KEYS:
            if key in chosen:
                chosen[key] = str((path.parent / chosen[key]).resolve())
        for alias, param in REPEATED.items():
            if alias in chosen and param in names[cmd]:
                chosen[param] = [chosen.pop(alias)]
        defaults[cmd] = chosen
    return defaults


def _key(name: str) -> str:
    return name.replace("-", "_")


def _check_value(path: Path, key: str, value, param: click.Parameter) -> None:
    """Refuse a config value of the wrong type (a list for beam-size, 1.5 for batch-size,
    a number for bundle) in one line, rather than a traceback or a quiet conversion."""
    kind = param.type
    values = value if getattr(param, "multiple", False) and isinstance(value, list) else [value]
    if isinstance(param, click.Option) and param.is_flag or isinstance(kind, click.types.BoolParamType):
        ok, want = all(isinstance(v, bool) for v in values), "true or false"
    elif isinstance(kind, click.types.IntParamType):
        ok = all(isinstance(v, int) and not isinstance(v, bool) for v in values)
        want = "a whole number"
    elif isinstance(kind, click.types.FloatParamType):
        ok = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
        want = "a number"
    elif isinstance(kind, click.Choice):
        ok, want = all(v in kind.choices for v in values), f"one of {', '.join(map(str, kind.choices))}"
    else:
        ok, want = all(isinstance(v, str) for v in values), "a string"
    if not ok:
        raise UsageError(f"{path}: {key.replace('_', '-')} = {value!r}: expected {want}; fix the config file")
    if isinstance(kind, click.types._NumberRangeBase):
        try:
            for v in values:
                kind.convert(v, param, None)
        except click.BadParameter as exc:
            raise UsageError(f"{path}: {key.replace('_', '-')} = {value!r}: {exc.message}; "
                             "fix the config file") from None
