"""The "How is this counted?" texts: the entries of docs/metrics.md, read from the repository when a page runs.

The metric definitions are written once, in docs/metrics.md; a dashboard never carries its own copy, so what the
page says is what the marts compute. Entries are named by their heading's anchor, the one GitHub gives it
(`### Stage conversion` -> `stage-conversion`), so `docs/metrics.md#stage-conversion` is the same entry on GitHub,
in the dbt doc blocks and here. tests/test_metric_docs.py checks that every anchor a page names exists.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

METRICS_MD = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
LABEL = ("口径说明（docs/metrics.md）", "How is this counted? (docs/metrics.md)")
MISSING = ("此安装中没有 docs/metrics.md，无法显示口径说明。", "docs/metrics.md is not in this installation.")
IN_ENGLISH = ("口径定义以英文撰写，与数据仓库的文档一致。", "")

_HEADING = re.compile(r"^### (.+?)\s*$", re.MULTILINE)
_LOCAL_LINK = re.compile(r"\[([^\]]+)\]\(#[^)]*\)")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _parse(text: str) -> dict[str, tuple[str, str]]:
    found = list(_HEADING.finditer(text))
    entries = {}
    for i, m in enumerate(found):
        end = found[i + 1].start() if i + 1 < len(found) else len(text)
        body = text[m.end():end]
        body = body.split("\n## ", 1)[0]  # an entry ends at the next section too
        entries[slug(m.group(1))] = (m.group(1).strip(), body.strip())
    return entries


def entries(path: Path | None = None) -> dict[str, tuple[str, str]]:
    """anchor -> (title, markdown body) of every `###` entry; empty when the file is missing. Read again only when
    the file changed (a page has several expanders per run), so an edited definition shows at the next rerun."""
    path = path or METRICS_MD
    try:
        stat = path.stat()
    except OSError:
        return {}
    return _entries_of(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _entries_of(path: Path, mtime_ns: int, size: int) -> dict[str, tuple[str, str]]:
    try:
        return _parse(path.read_text(encoding="utf-8"))
    except OSError:
        return {}


def markdown(anchors: Sequence[str], path: Path | None = None) -> str | None:
    """The named entries as one markdown text (links inside the file become plain words), or None when none of them
    can be read."""
    known = entries(path)
    parts = []
    for anchor in anchors:
        if anchor in known:
            title, body = known[anchor]
            body = _LOCAL_LINK.sub(r"\1", body)
            parts.append(f"**{title}** · `docs/metrics.md#{anchor}`\n\n{body}")
    return "\n\n---\n\n".join(parts) if parts else None


def how_counted(anchors: Sequence[str], zh: bool) -> None:
    """A collapsed expander under a chart's caption with the definitions the chart uses."""
    import streamlit as st

    pick = 0 if zh else 1
    with st.expander(LABEL[pick], expanded=False):
        text = markdown(anchors)
        if text is None:
            st.caption(MISSING[pick])
            return
        if IN_ENGLISH[pick]:
            st.caption(IN_ENGLISH[pick])
        st.markdown(text)
