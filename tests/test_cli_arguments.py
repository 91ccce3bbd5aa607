"""Every argument of every command is checked before work starts: a bad one is one line on stderr, a non-zero
exit and never a traceback (issue 13: `generate --scale nan`, `validate --raw` on a symlink loop, `serve --port
99999`, a taken port, `build --warehouse` on a folder, `--mapping /etc/passwd`)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from closedloop import cli


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("args")
    loop = root / "loop"
    loop.symlink_to(loop)
    (root / "a").symlink_to(root / "b")
    (root / "b").symlink_to(root / "a")
    (root / "file.txt").write_text("not a folder\n")
    (root / "folder").mkdir()
    (root / "bad.yml").write_text("tables: [unclosed\n")
    (root / "not-a-mapping.yml").write_text("secret: hunter2\npassword: swordfish\n")
    (root / "shadow.yml").write_text("root:*:20228:0:99999:7:::\ndaemon:*:20228:0:99999:7:::\n")
    return {"root": str(root), "loop": str(loop), "loop2": str(root / "a"), "file": str(root / "file.txt"),
            "folder": str(root / "folder"), "bad_yaml": str(root / "bad.yml"),
            "not_mapping": str(root / "not-a-mapping.yml"), "shadow": str(root / "shadow.yml"),
            "missing": str(root / "missing")}


# (id, argv with {placeholders}, a fragment the one-line message must hold)
BAD = [
    ("scale-nan", "generate --scale nan --out {root}/o", "positive number"),
    ("scale-inf", "generate --scale inf --out {root}/o", "positive number"),
    ("scale-neg", "generate --scale -1 --out {root}/o", "positive number"),
    ("scale-zero", "generate --scale 0 --out {root}/o", "positive number"),
    ("scale-text", "generate --scale abc --out {root}/o", "not a number"),
    ("scale-huge", "generate --scale 1e300 --out {root}/o", "largest supported scale"),
    ("seed-neg", "generate --seed -5 --out {root}/o", "whole number"),
    ("seed-float", "generate --seed 1.5 --out {root}/o", "whole number"),
    ("out-file", "generate --out {file}", "not a folder"),
    ("raw-loop", "validate --raw {loop}", "symbolic link loop"),
    ("raw-loop2", "validate --raw {loop2}", "symbolic link loop"),
    ("raw-file", "validate --raw {file}", "is not a folder"),
    ("raw-missing", "validate --raw {missing}", "does not exist"),
    ("raw-empty", "validate --raw=", "empty path"),
    ("rejected-suffix", "validate --raw {folder} --rejected {root}/out.txt", ".csv or .xlsx"),
    ("rejected-folder", "validate --raw {folder} --rejected {folder}", ".csv or .xlsx"),
    ("land-into-file", "land --raw {folder} --landing {file}", "not a folder"),
    ("build-raw-loop", "build --raw {loop} --warehouse {root}/w.duckdb", "symbolic link loop"),
    ("warehouse-dir", "build --raw {folder} --warehouse {folder}", "is a folder"),
    ("warehouse-under-a-file", "build --raw {folder} --warehouse {file}/w.duckdb", "Not a directory"),
    ("rollback-under-a-file", "rollback --warehouse {file}/w.duckdb", "Not a directory"),
    ("warehouse-loop", "status --warehouse {loop}", "symbolic link loop"),
    ("warehouse-dir-status", "status --warehouse {folder}", "is a folder"),
    ("warehouse-dir-summary", "summary --warehouse {folder}", "is a folder"),
    ("warehouse-dir-serve", "serve --warehouse {folder}", "is a folder"),
    ("warehouse-dir-docs", "docs --warehouse {folder}", "is a folder"),
    ("keep-zero", "build --raw {folder} --warehouse {root}/w.duckdb --keep 0", "from 1"),
    ("keep-text", "build --raw {folder} --warehouse {root}/w.duckdb --keep many", "whole number"),
    ("mapping-passwd", "validate --raw {folder} --mapping /etc/passwd", "mapping"),
    ("mapping-bad-yaml", "build --raw {folder} --warehouse {root}/w.duckdb --mapping {bad_yaml}", "invalid YAML"),
    ("mapping-not-mapping", "land --raw {folder} --landing {root}/l --mapping {not_mapping}",
     "unknown key `secret`"),
    ("mapping-shadow-like", "validate --raw {folder} --mapping {shadow}", "not a closedloop mapping"),
    ("mapping-unknown", "validate --raw {folder} --mapping nosuchpreset", "unknown mapping"),
    ("mapping-missing-file", "validate --raw {folder} --mapping {missing}.yml", "does not exist"),
    ("port-neg", "serve --warehouse {root}/w.duckdb --port -1", "not a port number"),
    ("port-zero", "serve --warehouse {root}/w.duckdb --port 0", "not a port number"),
    ("port-big", "serve --warehouse {root}/w.duckdb --port 99999", "not a port number"),
    ("port-text", "serve --warehouse {root}/w.duckdb --port abc", "not a port number"),
    ("address-bad", "serve --warehouse {root}/w.duckdb --address no.such.host.invalid", "host name"),
    ("rollback-to", "rollback --warehouse {root}/w.duckdb --to ../../etc", "not a build id"),
    ("unknown-flag", "status --colour", "unrecognized arguments"),
    ("no-command", "", "required"),
]


def _argv(template: str, places: dict[str, str]) -> list[str]:
    return [part.format(**places) for part in template.split()]


@pytest.mark.parametrize(("argv", "expected"), [pytest.param(a, e, id=i) for i, a, e in BAD])
def test_a_bad_argument_is_one_line_before_any_work(argv: str, expected: str, places, capsys, monkeypatch) -> None:
    monkeypatch.delenv("CLOSEDLOOP_DEBUG", raising=False)
    before = sorted(os.listdir(places["root"]))
    try:
        code = cli.main(_argv(argv, places))
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    assert code not in (0, None), (out, err)
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert expected in err, err
    assert "Traceback" not in out + err
    assert not {"hunter2", "swordfish", "root:x:0", "20228"} & set(err.replace("`", " ").split()) and \
        "root:x:0" not in err and "20228" not in err  # a wrong file's content is never echoed
    assert sorted(os.listdir(places["root"])) == before  # nothing was written: checked before work


@pytest.mark.parametrize(("env", "value", "expected"), [
    ("CLOSEDLOOP_RAW", "{loop}", "symbolic link loop"),
    ("CLOSEDLOOP_RAW", "{file}", "is not a folder"),
])
def test_environment_variables_get_the_same_checks(env, value, expected, places, capsys, monkeypatch) -> None:
    monkeypatch.setenv(env, value.format(**places))
    assert cli.main(["validate"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and env in err, err


def test_the_warehouse_variable_is_checked_too(places, capsys, monkeypatch) -> None:
    monkeypatch.setenv("CLOSEDLOOP_WAREHOUSE", places["folder"])
    assert cli.main(["status"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is a folder" in err, err


def _listening_socket() -> socket.socket:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen()
    return s


def test_a_taken_port_is_refused_before_serving(places, capsys, monkeypatch) -> None:
    monkeypatch.delenv("CLOSEDLOOP_DEBUG", raising=False)
    with _listening_socket() as taken:
        port = taken.getsockname()[1]
        code = cli.main(["serve", "--warehouse", f"{places['root']}/w.duckdb", "--port", str(port),
                         "--address", "127.0.0.1"])
    out, err = capsys.readouterr()
    assert code == 1 and "Serving" not in out, out
    assert err.count("\n") == 1 and f"port {port}" in err and "already in use" in err, err


def test_an_unexpected_error_is_one_sentence_with_a_log(monkeypatch, capsys, places) -> None:
    monkeypatch.delenv("CLOSEDLOOP_DEBUG", raising=False)

    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "_cmd_status", boom)
    code = cli.main(["status", "--warehouse", f"{places['root']}/w.duckdb"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert "unexpected error (ZeroDivisionError" in err and "CLOSEDLOOP_DEBUG=1" in err and ".log" in err, err
    # Developers and tests see the real thing.
    monkeypatch.setenv("CLOSEDLOOP_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        cli.main(["status", "--warehouse", f"{places['root']}/w.duckdb"])


def test_a_stop_signal_wrapped_in_a_library_error_is_the_stop(monkeypatch, capsys, places) -> None:
    """SIGTERM arriving while DuckDB runs Python code of ours (the Arrow scan of a registered chunk) comes back as
    DuckDB's own error ("… failed: stopped by SIGTERM", seen in a CI run); it is still a stop (exit 128 + 15), not an
    unexpected error."""
    import signal

    monkeypatch.delenv("CLOSEDLOOP_DEBUG", raising=False)

    def stopped_inside_a_library(args):
        try:
            signal.raise_signal(signal.SIGTERM)  # the real handler, installed by main, raises Stopped here
        except BaseException as exc:  # what DuckDB does with an exception raised in its callback
            raise RuntimeError(f"counting the rows of the object registered as '__door_chunk' failed: {exc}") from None

    monkeypatch.setattr(cli, "_cmd_status", stopped_inside_a_library)
    try:
        code = cli.main(["status", "--warehouse", f"{places['root']}/w.duckdb"])
    finally:
        for s in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(s, signal.SIG_DFL)
    err = capsys.readouterr().err
    assert code == 128 + signal.SIGTERM and "stopped by SIGTERM" in err and "unexpected" not in err, err


def test_a_full_disk_from_anywhere_is_one_sentence(monkeypatch, capsys, places) -> None:
    import errno

    monkeypatch.delenv("CLOSEDLOOP_DEBUG", raising=False)

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/srv/data/x.parquet")

    monkeypatch.setattr(cli, "_cmd_generate", full)
    assert cli.main(["generate", "--out", places["root"] + "/g"]) == 1
    err = capsys.readouterr().err
    assert err == "closedloop generate: no space left on /srv/data/x.parquet; free some space and run the command " \
                  "again.\n"


@pytest.mark.parametrize("argv", [
    "generate --scale nan --out {root}/o",
    "validate --raw {loop}",
    "serve --port 99999",
    "build --raw {folder} --warehouse {folder}",
    "validate --raw {folder} --mapping /etc/passwd",
])
def test_the_installed_command_says_one_line(argv: str, places) -> None:
    exe = Path(sys.executable).with_name("closedloop")
    proc = subprocess.run([str(exe), *_argv(argv, places)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "CLOSEDLOOP_DEBUG": ""})
    assert proc.returncode != 0
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert not proc.stdout


def test_checks_run_fast() -> None:
    """Checking costs nothing next to the work it saves (the mapping check parses the file once)."""
    started = time.monotonic()
    parser = cli.parser()
    parser.parse_args(["serve", "--port", "8600"])
    assert time.monotonic() - started < 5


def test_a_full_disk_said_in_words_is_one_sentence(monkeypatch, capsys, places) -> None:
    import duckdb

    monkeypatch.delenv("CLOSEDLOOP_DEBUG", raising=False)

    def full(args):
        raise duckdb.IOException('IO Error: Could not write file "/srv/t/x.tmp": No space left on device')

    monkeypatch.setattr(cli, "_cmd_validate", full)
    assert cli.main(["validate", "--raw", places["folder"]]) == 1
    err = capsys.readouterr().err
    assert err.startswith("closedloop validate: no space left on the disk (") and err.count("\n") == 1, err
