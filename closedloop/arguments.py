"""Argument checks for the `closedloop` command, run by argparse (`type=`) before any work starts.

Each check turns a bad value into one sentence (argparse.ArgumentTypeError) that names the argument's problem,
so `generate --scale nan`, `serve --port 99999` or `--mapping /etc/passwd` stop at once with one line instead of
a traceback after minutes of work. Paths are checked for what the command will do with them (a folder to read,
a file to write); whether a warehouse exists yet is the command's own business (`status` says so in its words).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import socket
from pathlib import Path

from closedloop.paths import BUILD_ID

# `generate --scale`: 1 is ~10k leads; 10,000 would be ~100M leads (about a terabyte of CSV), far past the
# largest scale measured (docs/benchmarks.md: 1000).
MAX_SCALE = 10_000.0
MAX_SEED = 2**63 - 1


def _fail(message: str) -> argparse.ArgumentTypeError:
    return argparse.ArgumentTypeError(message)


def _path(text: str) -> Path:
    """`text` as an absolute path, or one sentence (a symlink loop, a NUL byte, an over-long name)."""
    if not text or not text.strip():
        raise _fail("an empty path")
    if "\x00" in text:
        raise _fail("a path cannot contain a NUL character")
    try:
        return Path(text).expanduser().resolve()
    except RuntimeError as exc:  # Python 3.11: a symlink loop
        raise _fail(f"{text}: a symbolic link loop") from exc
    except OSError as exc:
        raise _fail(f"{text}: {exc.strerror or exc}") from exc


def _stat_problem(path: Path) -> str | None:
    """Why `path` cannot be looked at (a loop, no permission), or None."""
    try:
        path.stat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None


def positive_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise _fail(f"`{text[:40]}` is not a number (1 is about 10k leads; 0.1 is a tenth of that)") from None
    if not math.isfinite(value) or value <= 0:
        raise _fail(f"must be a positive number, not {text[:40]}")
    if value > MAX_SCALE:
        raise _fail(f"{value:g} is larger than the largest supported scale, {MAX_SCALE:g}")
    return value


def seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _fail(f"`{text[:40]}` is not a whole number") from None
    if not 0 <= value <= MAX_SEED:
        raise _fail(f"must be a whole number from 0 to {MAX_SEED}")
    return value


def keep(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _fail(f"`{text[:40]}` is not a whole number") from None
    if not 1 <= value <= 1000:
        raise _fail("must be a whole number from 1 to 1000 (the served build is always kept)")
    return value


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise _fail(f"`{text[:40]}` is not a port number (1 to 65535)") from None
    if not 1 <= value <= 65535:
        raise _fail(f"{value} is not a port number (1 to 65535)")
    return value


def address(text: str) -> str:
    if not text or any(c.isspace() for c in text) or "\x00" in text:
        raise _fail(f"`{text[:60]}` is not a host name or IP address")
    try:
        socket.getaddrinfo(text, None)
    except (OSError, UnicodeError):
        raise _fail(f"`{text[:60]}` is not a known host name or IP address of this machine") from None
    return text


def existing_folder(text: str) -> Path:
    """A folder that exists and can be read (a raw export)."""
    path = _path(text)
    if problem := _stat_problem(path):
        raise _fail(problem)
    if not path.exists():
        raise _fail(f"{path} does not exist")
    if not path.is_dir():
        raise _fail(f"{path} is not a folder")
    if not os.access(path, os.R_OK | os.X_OK):
        raise _fail(f"{path}: permission denied (the folder cannot be read)")
    return path


def output_folder(text: str) -> Path:
    """A folder to write into: it may not exist yet, but must not be a file, and its nearest existing parent must
    be a writable folder."""
    path = _path(text)
    if problem := _stat_problem(path):
        raise _fail(problem)
    if path.exists() and not path.is_dir():
        raise _fail(f"{path} exists and is not a folder")
    _writable_parent(path)
    return path


def landing_folder(text: str) -> Path:
    """`land --landing`: a folder to write into that is not a built warehouse's landing (`landing/` beside a
    warehouse, marked by its CURRENT pointer, or one build's folder in it). Tables are written one after the
    other, so a land that fails half-way there would leave the served warehouse's views reading half new files."""
    path = output_folder(text)
    for root in (path, path.parent):
        if (root / "CURRENT").is_file():
            raise _fail(f"{path} is the landing of a built warehouse (its views read it); give a folder of its own")
    return path


def output_file(text: str, suffixes: tuple[str, ...] = ()) -> Path:
    path = _path(text)
    if suffixes and path.suffix.lower() not in suffixes:
        raise _fail(f"{path.name}: the file name must end in {' or '.join(suffixes)}")
    if path.is_dir():
        raise _fail(f"{path} is a folder; give a file name")
    _writable_parent(path.parent)
    return path


def rejected_file(text: str) -> Path:
    return output_file(text, (".csv", ".xlsx"))


def warehouse_file(text: str) -> Path:
    """A warehouse file: absent (a first build) or a file, never a folder; its folder must be writable by a build
    (status and the dashboards only read it, but a folder there is wrong for every command)."""
    path = _path(text)
    if problem := _stat_problem(path):
        raise _fail(problem)
    if path.is_dir():
        raise _fail(f"{path} is a folder; --warehouse names the DuckDB file (e.g. {path / 'warehouse.duckdb'})")
    if path.exists() and not path.is_file():
        raise _fail(f"{path} is not a regular file")
    return path


def build_warehouse(text: str) -> Path:
    """The warehouse a build publishes: `warehouse_file`, in a folder this user can write (or create)."""
    path = warehouse_file(text)
    _writable_parent(path.parent)
    return path


def _writable_parent(path: Path) -> None:
    parent = path
    while not parent.exists():
        if parent.parent == parent:
            break
        parent = parent.parent
    if not parent.is_dir():
        raise _fail(f"{parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise _fail(f"{parent}: permission denied (cannot write there)")


def mapping(text: str) -> str:
    """A mapping preset or mapping file that parses as a mapping: checked now, so a wrong file stops the command
    before any work (the message names the problem and never repeats the file's content)."""
    from closedloop.mapping import MappingError, load_mapping

    if not text or "\x00" in text:
        raise _fail("an empty mapping name")
    try:
        load_mapping(text)
    except MappingError as exc:
        raise _fail(str(exc).removesuffix(".")) from None
    except (OSError, RuntimeError, ValueError) as exc:  # a name too long, a symlink loop: looked up before it is read
        why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        raise _fail(f"mapping `{text[:60]}{'…' if len(text) > 60 else ''}` cannot be looked up ({why})") from None
    return text


def build_id(text: str) -> str:
    if not BUILD_ID.fullmatch(text or ""):
        raise _fail(f"`{text[:40]}` is not a build id (like 20261207T021500-1234; see `closedloop status`)")
    return text


# The check of every argument, by command and flag (the flag's dest). Applied to the parser after it is built, so
# help texts and checks are edited apart; a flag not listed here is free text or a fixed choice.
CHECKS = {
    "generate": {"scale": positive_scale, "seed": seed, "out": output_folder},
    "validate": {"raw": existing_folder, "mapping": mapping, "rejected": rejected_file},
    "land": {"raw": existing_folder, "landing": landing_folder, "mapping": mapping},
    "build": {"raw": existing_folder, "warehouse": build_warehouse, "mapping": mapping, "keep": keep},
    "rollback": {"warehouse": build_warehouse, "to": build_id},
    "status": {"warehouse": warehouse_file},
    "summary": {"warehouse": warehouse_file},
    "serve": {"warehouse": warehouse_file, "port": port, "address": address},
    "docs": {"warehouse": warehouse_file},
}


def check_all(subparsers: argparse._SubParsersAction) -> None:
    """Set each flag's `type` to its check (argparse runs it on the given value and on a string default)."""
    for command, parser in subparsers.choices.items():
        checks = CHECKS.get(command, {})
        for action in parser._actions:
            if action.dest in checks:
                action.type = checks[action.dest]


# ---- the environment of the commands that run dbt ------------------------------------------------------------

_MEMORY = re.compile(r"\s*[0-9]+(?:\.[0-9]+)?\s*(?:[KMGT]i?B)\s*"  # 8GB, 512 MiB
                     r"|\s*(?:100|[1-9][0-9]?)(?:\.[0-9]+)?\s*%\s*", re.IGNORECASE)  # 75% of the machine's memory


def dbt_environment_problem(env: dict[str, str] | None = None) -> str | None:
    """Why dbt could not run with this environment (one sentence naming the variable), or None. Checked before a
    build or `docs` starts: each of these used to fail only after the whole validation, as "dbt could not run:
    Parser Error: Memory must have a number" or "Runtime Error Got magic b'root'", naming no variable."""
    env = os.environ if env is None else env
    memory = env.get("CLOSEDLOOP_DBT_MEMORY")
    if memory is not None and not _MEMORY.fullmatch(memory):
        return (f"CLOSEDLOOP_DBT_MEMORY={memory[:40]!r} is not a memory size DuckDB understands; give one such as "
                "8GB, 512MiB or 75% (or unset it for 8GB).")
    tz = env.get("TZ")
    if tz:
        # dbt's table library imports babel, which reads the local zone from TZ at import. An unknown zone name is
        # fine (babel falls back to the system's offset), but TZ naming a file that is not a zone file (TZ=/dev/null,
        # TZ=:/etc/passwd) makes that import, and so every dbt run, fail.
        try:
            from babel.localtime import get_localzone

            get_localzone()
        except LookupError:
            pass
        except Exception as exc:  # noqa: BLE001 - pytz asserts, struct errors, OSError: all mean "not usable"
            why = " ".join(str(exc).split())[:80] or type(exc).__name__
            return (f"TZ={tz[:40]!r} is not a time zone dbt can use ({why}); set it to a zone name such as "
                    "Asia/Shanghai or UTC, or unset it.")
    return None

