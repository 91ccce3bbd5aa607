"""`closedloop serve`: run the Streamlit dashboards over a warehouse file, read-only, on localhost.

The app reads the warehouse from CLOSEDLOOP_WAREHOUSE and opens it read-only per query, so `closedloop build`
can publish a new file while the dashboards run; they pick it up on the next interaction.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from closedloop.paths import ConfigError

REPO = Path(__file__).resolve().parent.parent
APP = REPO / "dashboards" / "app.py"

# The same settings as .streamlit/config.toml, passed as flags so they hold from any working directory:
# no telemetry, no browser opened, no file watching, never a traceback in the browser.
STREAMLIT_FLAGS = [
    "--browser.gatherUsageStats",
    "false",
    "--server.headless",
    "true",
    "--server.runOnSave",
    "false",
    "--server.fileWatcherType",
    "none",
    "--client.showErrorDetails",
    "none",
    "--client.toolbarMode",
    "minimal",
    "--runner.magicEnabled",
    "false",
    "--theme.base",
    "light",
]


def command(warehouse: Path, port: int = 8501, address: str = "localhost") -> list[str]:
    """The `streamlit run` command line that serves the dashboards."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(port),
        "--server.address",
        address,
        *STREAMLIT_FLAGS,
    ]


def environment(warehouse: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["CLOSEDLOOP_WAREHOUSE"] = str(Path(warehouse).expanduser().resolve())
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def access_refusal(env: dict[str, str] | None = None) -> str | None:
    """Why the dashboards must not start (CLOSEDLOOP_ACCESS set but empty, blank or naming an unusable roles file),
    or None. Checked before Streamlit starts, so a broken setting is one sentence and exit 1, never an open app."""
    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))
    from dashboards.access import check_environment

    return check_environment(os.environ if env is None else env)


def serve(warehouse: Path, port: int = 8501, address: str = "localhost") -> int:
    """Serve the dashboards until interrupted; returns Streamlit's exit code."""
    if not APP.exists():
        raise ConfigError(f"{APP}: the dashboards are not installed here (use an editable install of the repo).")
    refusal = access_refusal()
    if refusal:
        raise ConfigError(refusal)
    warehouse = Path(warehouse).expanduser().resolve()
    if not warehouse.exists():
        print(
            f"closedloop serve: {warehouse} does not exist yet; the dashboards will say so until "
            f"`closedloop build` publishes it.",
            file=sys.stderr,
        )
    print(
        f"Serving closedloop dashboards at http://{address}:{port}  (warehouse {warehouse}; Ctrl+C stops)", flush=True
    )
    proc = subprocess.run(command(warehouse, port, address), env=environment(warehouse), cwd=REPO, check=False)
    return proc.returncode
