"""Access control for the dashboards: who is looking, and what they may see (docs/access-control.md).

Off by default: without CLOSEDLOOP_ACCESS everyone sees everything, as in the demo. With it, the file it names
(YAML) maps signed-in users (the OIDC e-mail from `st.user`) to a role:

- `executive`: every department and the company-wide figures; aggregates only; contact details masked.
- `department_head`: their department(s) and every department below them; no company-wide figures; aggregates
  only; contact details masked.
- `analyst`: everything, plus the row-level drills (leads, opportunities, rows set aside) and contact details.

The rights of each role can be changed in the file (`roles:`). This module is pure Python (no Streamlit): it
parses the file, decides who the viewer is from the identity Streamlit reports, and masks contact details. The
query layer (queries.py) applies the resulting `Access` to every statement.

Identity comes only from a verified login (`st.user` with `is_logged_in` true) or, for tests and local checks,
from the server's environment (CLOSEDLOOP_ACCESS_TEST_USER) when the file turns login off and allows it. Never
from the URL.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

# Masking (by what a value is, in any spelling and column) lives in dashboards/pii.py, the one detector and masker;
# queries.fetch applies mask_frame to every frame of a viewer without see_pii.
from dashboards.pii import PII_COLUMN, mask_frame, mask_id, mask_text, mask_value  # noqa: F401

ENV_ACCESS = "CLOSEDLOOP_ACCESS"
ENV_TEST_USER = "CLOSEDLOOP_ACCESS_TEST_USER"
ROLES = ("executive", "department_head", "analyst")


class ConfigError(Exception):
    """The access file is missing, unreadable or invalid: nobody gets in until it is fixed."""


class AccessDenied(Exception):
    """A query asked for something the viewer may not see. `kind`: 'company' (company-wide figures), 'row_level'
    (rows behind a total) or 'no_viewer' (access control is on but nobody was identified)."""

    def __init__(self, kind: str, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


@dataclass(frozen=True)
class Rights:
    row_level: bool  # the rows behind a total (leads, opportunities, rows set aside)
    see_pii: bool  # e-mail, phone and WeChat ids unmasked
    company_benchmark: bool = False  # department heads: the rest-of-company and company rates beside their own
    server_paths: bool = False  # the server's file paths (warehouse, raw folder, landing) rather than file names


ROLE_DEFAULTS = {
    "executive": Rights(row_level=False, see_pii=False, company_benchmark=True),
    "department_head": Rights(row_level=False, see_pii=False, company_benchmark=False),
    "analyst": Rights(row_level=True, see_pii=True, company_benchmark=True, server_paths=True),
}
ROLE_KEYS = {"executive": {"row_level", "see_pii", "server_paths"}, "analyst": {"row_level", "see_pii", "server_paths"},
             "department_head": {"row_level", "see_pii", "company_benchmark", "server_paths"}}


@dataclass(frozen=True)
class Access:
    """What the query layer lets through. `departments` None = every department and the company-wide rows;
    otherwise the listed departments and every department below them (by `dim_department` parent links)."""

    departments: tuple[str, ...] | None = None
    row_level: bool = True
    see_pii: bool = True
    company_benchmark: bool = True
    server_paths: bool = True  # off: absolute paths in what they see are shortened to file names

    @property
    def scoped(self) -> bool:
        return self.departments is not None

    @property
    def key(self) -> tuple:
        return (self.departments, self.row_level, self.see_pii, self.company_benchmark, self.server_paths)

    @classmethod
    def from_key(cls, key: tuple) -> Access:
        return cls(*key)


UNRESTRICTED = Access()


@dataclass(frozen=True)
class Viewer:
    email: str | None  # None when access control is off
    role: str | None  # None when access control is off
    access: Access = UNRESTRICTED
    login: bool = False  # signed in through st.login (a log-out button is offered)

    @property
    def is_off(self) -> bool:
        return self.role is None


OFF = Viewer(None, None)


@dataclass(frozen=True)
class UserEntry:
    role: str
    departments: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    path: str
    login: bool = True
    provider: str | None = None
    allow_test_user: bool = False
    require_verified_email: bool = True  # false: a provider that sends no email_verified claim at all is trusted
    default_role: str | None = None
    default_role_domains: tuple[str, ...] = ()
    roles: dict = field(default_factory=dict)  # role -> Rights
    users: dict = field(default_factory=dict)  # lower-case e-mail -> UserEntry

    def rights(self, role: str) -> Rights:
        return self.roles.get(role, ROLE_DEFAULTS[role])


@dataclass(frozen=True)
class Decision:
    """The outcome of the access check for one run. status: off | ok | login | denied | error."""

    status: str
    viewer: Viewer | None = None
    reason: str = ""  # denied: not_listed | unverified | no_email | no_identity
    detail: str = ""  # the e-mail, or the configuration error
    config: Config | None = None


# ---------------------------------------------------------------------------------------------------------------
# The file
# ---------------------------------------------------------------------------------------------------------------

TOP_KEYS = {"login", "provider", "allow_test_user", "require_verified_email", "default_role", "default_role_domains",
            "roles", "users"}
_CACHE: dict[str, tuple[tuple, Config]] = {}


def _bool(value, where: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    return value


def _role(value, where: str) -> str:
    if value not in ROLES:
        raise ConfigError(f"{where}: unknown role {value!r} (roles: {', '.join(ROLES)})")
    return value


def parse_config(data, path: str = "<access>") -> Config:
    """Validate the parsed YAML; any mistake is a ConfigError naming the key (fail closed, never half-applied)."""
    if data is None:
        raise ConfigError(f"{path}: the file is empty")
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: the file must be a mapping (login, roles, users …)")
    unknown = set(data) - TOP_KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    login = _bool(data.get("login", True), "login")
    provider = data.get("provider")
    if provider is not None and not (isinstance(provider, str) and provider.strip()):
        raise ConfigError("provider must be the name of an [auth.<name>] section of secrets.toml")
    allow_test_user = _bool(data.get("allow_test_user", False), "allow_test_user")
    require_verified = _bool(data.get("require_verified_email", True), "require_verified_email")
    roles: dict[str, Rights] = {}
    raw_roles = data.get("roles") or {}
    if not isinstance(raw_roles, Mapping):
        raise ConfigError("roles must map a role to its rights")
    for role, rights in raw_roles.items():
        _role(role, "roles")
        rights = rights or {}
        if not isinstance(rights, Mapping):
            raise ConfigError(f"roles.{role} must map rights (row_level, see_pii …) to true or false")
        bad = set(rights) - ROLE_KEYS[role]
        if bad:
            raise ConfigError(f"roles.{role}: unknown right(s) {', '.join(sorted(map(str, bad)))} "
                              f"(allowed: {', '.join(sorted(ROLE_KEYS[role]))})")
        base = ROLE_DEFAULTS[role]
        roles[role] = Rights(
            row_level=_bool(rights.get("row_level", base.row_level), f"roles.{role}.row_level"),
            see_pii=_bool(rights.get("see_pii", base.see_pii), f"roles.{role}.see_pii"),
            company_benchmark=_bool(rights.get("company_benchmark", base.company_benchmark),
                                    f"roles.{role}.company_benchmark"),
            server_paths=_bool(rights.get("server_paths", base.server_paths), f"roles.{role}.server_paths"))
    default_role = data.get("default_role")
    if default_role is not None:
        _role(default_role, "default_role")
        if default_role == "department_head":
            raise ConfigError("default_role cannot be department_head (it has no department); list those users")
    domains = data.get("default_role_domains") or []
    if isinstance(domains, str):
        domains = [domains]
    if not isinstance(domains, list) or not all(isinstance(d, str) and d.strip() for d in domains):
        raise ConfigError("default_role_domains must be a list of e-mail domains")
    users: dict[str, UserEntry] = {}
    raw_users = data.get("users") or {}
    if not isinstance(raw_users, Mapping):
        raise ConfigError("users must map an e-mail to a role")
    for email, entry in raw_users.items():
        if not isinstance(email, str) or "@" not in email:
            raise ConfigError(f"users: {email!r} is not an e-mail address")
        key = email.strip().lower()
        if key in users:
            raise ConfigError(f"users: {email} is listed twice")
        if isinstance(entry, str):
            entry = {"role": entry}
        if not isinstance(entry, Mapping):
            raise ConfigError(f"users.{email} must be a role or a mapping with role (and department)")
        bad = set(entry) - {"role", "department", "departments"}
        if bad:
            raise ConfigError(f"users.{email}: unknown key(s) {', '.join(sorted(map(str, bad)))}")
        role = _role(entry.get("role"), f"users.{email}")
        depts = entry.get("departments", entry.get("department"))
        if isinstance(depts, str):
            depts = [depts]
        if role == "department_head":
            if not depts or not isinstance(depts, list) or not all(isinstance(d, str) and d.strip() for d in depts):
                raise ConfigError(f"users.{email}: a department_head needs department: <department_id>")
            users[key] = UserEntry(role, tuple(sorted({d.strip() for d in depts})))
        else:
            if depts:
                raise ConfigError(f"users.{email}: only a department_head has a department ({role} sees all)")
            users[key] = UserEntry(role)
    if not users and default_role is None:
        raise ConfigError(f"{path}: no users and no default_role, so nobody could sign in")
    return Config(path=path, login=login, provider=provider.strip() if provider else None,
                  allow_test_user=allow_test_user, require_verified_email=require_verified, default_role=default_role,
                  default_role_domains=tuple(d.strip().lower().lstrip("@") for d in domains),
                  roles=roles, users=users)


def load_setting(value: str | None) -> Config:
    """The roles file named by a CLOSEDLOOP_ACCESS value that is set. Set means on: an empty or blank value, or a
    file that cannot be used, is a ConfigError (fail closed), never "access control off"."""
    if value is None or not value.strip():
        raise ConfigError(f"{ENV_ACCESS} is set but empty: name the roles file, or unset it to turn access control off")
    return load_config(value.strip())


def check_environment(env: Mapping[str, str] | None = None) -> str | None:
    """Why the dashboards must not be served with this environment (one sentence), or None: access control off
    (CLOSEDLOOP_ACCESS not set) or a valid roles file. `closedloop serve` asks before it starts Streamlit."""
    env = os.environ if env is None else env
    if ENV_ACCESS not in env:
        return None
    try:
        load_setting(env[ENV_ACCESS])
    except ConfigError as exc:
        return f"access control ({ENV_ACCESS}) is not usable: {str(exc).rstrip('.')}."
    return None


# A roles file is a few hundred lines; anything far larger is not one (a log, a dump, a device) and is refused
# before it is read, so a wrong setting can never make the dashboards read for minutes or fill the memory.
MAX_FILE_BYTES = 1 << 20


def _safe_loader():
    """yaml.SafeLoader that refuses a key given twice in one mapping. PyYAML keeps the last one silently, so a
    user listed twice (or a second `users:` block) would get whichever role came last: an ambiguous file must
    refuse to serve, like any other invalid one."""
    import yaml

    class _Strict(yaml.SafeLoader):
        pass

    def _mapping(loader, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = loader.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    where = f"line {key_node.start_mark.line + 1}"
                    raise yaml.constructor.ConstructorError(None, None, f"{key!r} is given twice ({where})",
                                                            key_node.start_mark)
                seen.add(key)
            except TypeError:
                continue  # an unhashable key: construct_mapping says so in its own words
        return yaml.SafeLoader.construct_mapping(loader, node, deep)

    _Strict.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
    return _Strict


def load_config(path: str | os.PathLike) -> Config:
    """Read and validate the access file (re-read when it changes; an admin's edit applies on the next click)."""
    import stat

    import yaml

    p = Path(path).expanduser()
    if p.is_dir():
        raise ConfigError(f"{p}: is a folder, not a roles file")
    try:
        st_ = p.stat()
        stamp = (st_.st_ino, st_.st_size, st_.st_mtime_ns)
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on some Pythons
        raise ConfigError(f"{p}: cannot read the access file ({getattr(exc, 'strerror', None) or exc})") from exc
    # A FIFO would block every page forever, a device (/dev/zero) would be read without end: only a regular file.
    if not stat.S_ISREG(st_.st_mode):
        raise ConfigError(f"{p}: is not a regular file (a roles file is a YAML file)")
    if st_.st_size > MAX_FILE_BYTES:
        raise ConfigError(f"{p}: is {st_.st_size:,} bytes, too large for a roles file (at most {MAX_FILE_BYTES:,})")
    cached = _CACHE.get(str(p))
    if cached and cached[0] == stamp:
        return cached[1]
    try:
        data = yaml.load(p.read_text(encoding="utf-8"), Loader=_safe_loader())  # noqa: S506 (a SafeLoader)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{p}: not a readable YAML file ({' '.join(str(exc).split())[:200]})") from exc
    cfg = parse_config(data, str(p))
    _CACHE[str(p)] = (stamp, cfg)
    return cfg


# ---------------------------------------------------------------------------------------------------------------
# Who is looking
# ---------------------------------------------------------------------------------------------------------------

def email_verified(user: Mapping, required: bool = True) -> bool:
    """Whether the provider vouches for the e-mail. Only the JSON boolean true, or the string "true" in any case
    (some providers send claims as strings), counts; "false", "False", "0", 0, 1, "yes", "", null and anything else
    are unverified. A claim that is absent counts only when the roles file says `require_verified_email: false`."""
    if "email_verified" not in user:
        return not required
    value = user["email_verified"]
    return value is True or (isinstance(value, str) and value.strip().lower() == "true")


def viewer_for(cfg: Config, email: str, login: bool) -> Decision:
    """The role and scope of a (verified) e-mail, or a denial."""
    key = email.strip().lower()
    entry = cfg.users.get(key)
    if entry is None and cfg.default_role:
        domain = key.rsplit("@", 1)[-1]
        if not cfg.default_role_domains or domain in cfg.default_role_domains:
            entry = UserEntry(cfg.default_role)
    if entry is None:
        return Decision("denied", reason="not_listed", detail=key, config=cfg)
    rights = cfg.rights(entry.role)
    if entry.role == "department_head":
        access = Access(entry.departments, rights.row_level, rights.see_pii, rights.company_benchmark,
                        rights.server_paths)
    else:
        access = Access(None, rights.row_level, rights.see_pii, True, rights.server_paths)
    return Decision("ok", Viewer(key, entry.role, access, login=login), config=cfg)


def decide(user: Mapping | None, env: Mapping[str, str] | None = None) -> Decision:
    """Who is looking, from Streamlit's `st.user` (a mapping) and the server's environment. Never from the URL.

    - No CLOSEDLOOP_ACCESS: access control is off (the demo): everyone sees everything. Set but empty, blank or
      naming a file that cannot be used: status "error", nobody gets in (fail closed).
    - `login: true` (the default once a file is given): only `st.user` with `is_logged_in` true counts; Streamlit's
      placeholder e-mail of a session without login is ignored, and so is CLOSEDLOOP_ACCESS_TEST_USER.
    - `login: false`: CLOSEDLOOP_ACCESS_TEST_USER names the viewer, and only if the file says `allow_test_user: true`;
      otherwise nobody is identified and nobody gets in.
    """
    env = os.environ if env is None else env
    if ENV_ACCESS not in env:
        return Decision("off", OFF)
    try:
        cfg = load_setting(env[ENV_ACCESS])
    except ConfigError as exc:
        return Decision("error", detail=str(exc))
    user = user or {}
    if cfg.login:
        if user.get("is_logged_in") is not True:
            return Decision("login", config=cfg)
        if not email_verified(user, cfg.require_verified_email):
            return Decision("denied", reason="unverified", detail=str(user.get("email") or ""), config=cfg)
        email = user.get("email")
        if not isinstance(email, str) or "@" not in email:
            return Decision("denied", reason="no_email", config=cfg)
        return viewer_for(cfg, email, login=True)
    test_user = env.get(ENV_TEST_USER, "").strip()
    if test_user and cfg.allow_test_user:
        return viewer_for(cfg, test_user, login=False)
    return Decision("denied", reason="no_identity", config=cfg)


# ---------------------------------------------------------------------------------------------------------------
# `python -m dashboards.access FILE`: check a file and list who gets what
# ---------------------------------------------------------------------------------------------------------------

def describe(cfg: Config) -> str:
    lines = [f"login: {'on (st.login, OIDC)' if cfg.login else 'off'}"
             + (f", provider {cfg.provider}" if cfg.provider else "")
             + (", test user allowed" if cfg.allow_test_user else "")]
    for role in ROLES:
        r = cfg.rights(role)
        lines.append(f"role {role}: row_level={r.row_level} see_pii={r.see_pii} server_paths={r.server_paths}"
                     + (f" company_benchmark={r.company_benchmark}" if role == "department_head" else ""))
    for email, entry in sorted(cfg.users.items()):
        lines.append(f"  {email}: {entry.role}" + (f" of {', '.join(entry.departments)} and below"
                                                    if entry.departments else ""))
    if cfg.default_role:
        lines.append(f"anyone else signed in: {cfg.default_role}"
                     + (f" (domains {', '.join(cfg.default_role_domains)})" if cfg.default_role_domains else ""))
    else:
        lines.append("anyone else signed in: no access")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args and ENV_ACCESS not in os.environ:
        print("usage: python -m dashboards.access ACCESS.yml (or set CLOSEDLOOP_ACCESS)", file=sys.stderr)
        return 2
    try:
        cfg = load_setting(args[0] if args else os.environ[ENV_ACCESS])
    except ConfigError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    print(describe(cfg))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
