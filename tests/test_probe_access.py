"""Probes of "Access control must fail closed" with other inputs than the issue's examples (issue 13, probe lane).

The roles file is the one thing that decides who sees what, so every way it can be ambiguous, unreadable or not a
file at all must refuse to serve (status "error", one sentence), never pick a meaning, never block or read without
end. Pure Python (dashboards.access); the subprocess checks run `closedloop serve` for real.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from dashboards import access  # noqa: E402

CEO = "ceo@example.com"
USER = {"is_logged_in": True, "email": CEO, "email_verified": True}

# A key given twice: PyYAML keeps the last silently, so each of these used to serve with whichever came last.
AMBIGUOUS = {
    "user twice": f"users:\n  {CEO}: {{role: department_head, department: D100}}\n  {CEO}: analyst\n",
    "user twice, same role": f"users:\n  {CEO}: analyst\n  {CEO}: analyst\n",
    "users block twice": f"users:\n  {CEO}: {{role: department_head, department: D100}}\nusers:\n  {CEO}: analyst\n",
    "role twice": (f"roles:\n  executive: {{see_pii: false}}\n  executive: {{see_pii: true}}\n"
                   f"users: {{{CEO}: executive}}\n"),
    "right twice": f"roles:\n  executive: {{see_pii: false, see_pii: true}}\nusers: {{{CEO}: executive}}\n",
    "login twice": f"login: true\nlogin: false\nallow_test_user: true\nusers: {{{CEO}: analyst}}\n",
    "department twice": f"users:\n  {CEO}:\n    role: department_head\n    department: D100\n    department: D200\n",
    "flow mapping": f"users: {{{CEO}: analyst, {CEO}: executive}}\n",
}


def _decide(tmp_path: Path, text: str):
    path = tmp_path / "roles.yml"
    path.write_text(text, encoding="utf-8")
    access._CACHE.clear()
    return access.decide(USER, {access.ENV_ACCESS: str(path)})


@pytest.mark.parametrize("case", sorted(AMBIGUOUS))
def test_a_key_given_twice_refuses_to_serve(case, tmp_path):
    decision = _decide(tmp_path, AMBIGUOUS[case])
    assert decision.status == "error", (case, decision)
    assert "twice" in decision.detail and "\n" not in decision.detail


def test_yaml_merge_keys_and_anchors_still_work(tmp_path):
    """`<<:` merges are not duplicates: the key written out wins, as YAML says."""
    text = (f"users:\n  {CEO}:\n    <<: {{role: analyst}}\n    role: executive\n"
            "  b@example.com: {<<: {role: analyst}}\n")
    decision = _decide(tmp_path, text)
    assert decision.status == "ok" and decision.viewer.role == "executive"


def _special(tmp_path: Path, kind: str) -> str:
    if kind == "fifo":
        os.mkfifo(tmp_path / "roles.fifo")
        return str(tmp_path / "roles.fifo")
    if kind == "socket":
        import socket

        sock = socket.socket(socket.AF_UNIX)
        sock.bind(str(tmp_path / "roles.sock"))
        return str(tmp_path / "roles.sock")
    if kind == "too large":
        path = tmp_path / "huge.yml"
        with path.open("w", encoding="utf-8") as f:
            f.write(f"users:\n  {CEO}: analyst\n")
            f.write("# padding\n" * (access.MAX_FILE_BYTES // 10 + 1))
        return str(path)
    if kind == "symlink loop":
        (tmp_path / "a.yml").symlink_to(tmp_path / "b.yml")
        (tmp_path / "b.yml").symlink_to(tmp_path / "a.yml")
        return str(tmp_path / "a.yml")
    if kind == "symlink to a FIFO":
        os.mkfifo(tmp_path / "f")
        (tmp_path / "l.yml").symlink_to(tmp_path / "f")
        return str(tmp_path / "l.yml")
    return kind  # a device or a /proc file


@pytest.mark.parametrize("kind", ["fifo", "socket", "/dev/zero", "/dev/urandom", "/dev/null", "/proc/self/mem",
                                  "too large", "symlink loop", "symlink to a FIFO", "/etc/passwd", "-"])
def test_a_roles_setting_that_is_not_a_roles_file_refuses_at_once(kind, tmp_path):
    """A FIFO used to block every page (and `serve`) forever, /dev/zero to be read until memory ran out."""
    env = {access.ENV_ACCESS: _special(tmp_path, kind)}
    access._CACHE.clear()
    previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(TimeoutError(kind)))
    signal.alarm(10)
    try:
        decision = access.decide(USER, env)
        sentence = access.check_environment(env)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert decision.status == "error", kind
    assert sentence and "\n" not in sentence and sentence.endswith("."), sentence


def test_closedloop_serve_refuses_a_fifo_as_roles_file_in_one_sentence(tmp_path):
    os.mkfifo(tmp_path / "roles.yml")
    exe = Path(sys.executable).with_name("closedloop")
    env = {**os.environ, access.ENV_ACCESS: str(tmp_path / "roles.yml"), "CI": "true"}
    env.pop("CLOSEDLOOP_DEBUG", None)
    done = subprocess.run([str(exe), "serve", "--warehouse", str(tmp_path / "w.duckdb"), "--port", "8598"],
                          env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and "not a regular file" in lines[0], done.stderr
    assert "Serving" not in done.stdout


# email_verified spellings beyond the issue's: only true (or the string "true", any case, trimmed) counts.
@pytest.mark.parametrize("claim", ["TRUE ", "\ttrue\n", "True"])
def test_true_claims_in_any_case_and_padding_are_verified(claim, tmp_path):
    decision = _decide(tmp_path, f"users: {{{CEO}: analyst}}\n")
    access._CACHE.clear()
    path = tmp_path / "roles.yml"
    decision = access.decide({**USER, "email_verified": claim}, {access.ENV_ACCESS: str(path)})
    assert decision.status == "ok"


@pytest.mark.parametrize("claim", [1, 1.0, "1", "yes", "Y", "on", "verified", "true\x00", "tru", "ｔｒｕｅ", b"true",
                                   ["true"], {"value": True}, "true false"])
def test_anything_else_is_unverified(claim, tmp_path):
    _decide(tmp_path, f"users: {{{CEO}: analyst}}\n")
    decision = access.decide({**USER, "email_verified": claim}, {access.ENV_ACCESS: str(tmp_path / "roles.yml")})
    assert (decision.status, decision.reason) == ("denied", "unverified"), claim


@pytest.mark.parametrize("listed, signed_in, role", [
    (" CEO@Example.com ", "ceo@example.com", "analyst"),
    ("ceo@example.com", " CEO@EXAMPLE.COM\t", "analyst"),
    ("ceo@example.com", "ceo@example.com.", None),  # another domain
    ("ceo@example.com", "ceo@example.co", None),
    ("ceo@example.com", "ceo+x@example.com", None),  # plus-addressing is another address here: not listed
])
def test_listed_users_match_by_trimmed_lower_case_address_only(listed, signed_in, role, tmp_path):
    _decide(tmp_path, f"users: {{'{listed}': analyst}}\n")
    decision = access.decide({**USER, "email": signed_in}, {access.ENV_ACCESS: str(tmp_path / "roles.yml")})
    assert (decision.viewer.role if decision.status == "ok" else None) == role


@pytest.mark.parametrize("text", [
    f"users: {{'{CEO}': analyst, ' {CEO.upper()}': executive}}\n",  # the same address in two spellings
    f"users: {{{CEO}: Analyst}}\n",  # role names are exact
    f"users: {{{CEO}: 'analyst '}}\n",
    f"users: {{{CEO}: [analyst]}}\n",
    f"users: {{{CEO}: {{role: department_head}}}}\n",  # a head without a department
    f"users: {{{CEO}: {{role: department_head, department: []}}}}\n",
    f"users: {{{CEO}: {{role: department_head, department: 100}}}}\n",
    f"users: {{{CEO}: {{role: executive, department: D100}}}}\n",
    f"roles: {{executive: {{see_pii: 'yes'}}}}\nusers: {{{CEO}: executive}}\n",
    f"roles: {{executive: {{see_pii: 1}}}}\nusers: {{{CEO}: executive}}\n",
    f"roles: {{boss: {{}}}}\nusers: {{{CEO}: executive}}\n",
    f"login: 'false'\nusers: {{{CEO}: executive}}\n",
    f"users: !!set {{{CEO}}}\n",
    f"users: {{{CEO}: !!python/name:os.system analyst}}\n",
    "default_role: department_head\nusers: {}\n",
    "default_role_domains: [example.com]\nusers: {}\n",
])
def test_wrong_types_and_undefined_roles_refuse_to_serve(text, tmp_path):
    assert _decide(tmp_path, text).status == "error", text
