"""Defaults from a `s2s-batch.toml` file, handed to click as its default_map.

A flag on the command line wins over an environment variable (S2S_BUNDLE, S2S_DEVICE),
which wins over the file, which wins over the built-in default.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from s2s_batch.runtime.errors import UsageError

# Built-in defaults of the translator that the CLI shows too (one place for each).
DEFAULT_BATCH_SIZE = 256
DEFAULT_BATCH_TOKENS = 4096  # with batch_type="tokens"
# Source tokens read per sentence (CTranslate2's max_input_length, and its default): the
# encoder graph runs to each row's length, so the training length is no limit.
DEFAULT_MAX_INPUT_LENGTH = 1024

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
