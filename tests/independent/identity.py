"""Identity resolution recomputed without the warehouse's SQL: networkx's connected components."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import networkx as nx
import pandas as pd


def components(edges: Iterable[tuple[int, int]]) -> dict[int, int]:
    """node -> smallest node of its component (the labelling the warehouse uses)."""
    graph = nx.Graph()
    graph.add_edges_from(edges)
    label: dict[int, int] = {}
    for members in nx.connected_components(graph):
        smallest = min(members)
        label.update(dict.fromkeys(members, smallest))
    return label


def partition(labels: dict) -> set[frozenset]:
    """The set of groups a labelling makes, whatever the label values."""
    groups: dict = {}
    for node, group in labels.items():
        groups.setdefault(group, set()).add(node)
    return {frozenset(g) for g in groups.values()}


def with_truth(raw: Path, con) -> pd.DataFrame:
    """Every lead, contact and touch of a built warehouse (`con`) with the person the warehouse found (person_id)
    and the person the generator planted (true_person, from raw/truth.json)."""
    from closedloop.generate.truth import load_persons

    truth = load_persons(raw)
    found = con.execute("select record_type, record_id, person_id from intermediate.int_identity__record_persons").df()
    number = found["record_id"].str.extract(r"(\d+)$", expand=False).astype("int64")
    found["true_person"] = [int(truth[kind][n - 1]) for kind, n in zip(found["record_type"], number, strict=True)]
    return found


def pairwise(frame: pd.DataFrame) -> tuple[float, float]:
    """Pairwise precision and recall: of the record pairs put in one person, the share truly one person, and of
    the truly-one-person pairs, the share found."""
    def pairs(sizes) -> int:
        return int((sizes * (sizes - 1) // 2).sum())

    together = pairs(frame.groupby(["person_id", "true_person"]).size())
    found = pairs(frame.groupby("person_id").size())
    true = pairs(frame.groupby("true_person").size())
    return together / found, together / true


PERSON_LEVEL = ("email", "phone", "wechat_openid", "wechat_unionid")
BROWSER_LEVEL = ("anonymous_id", "device_id")


def widest_sharing(observations: pd.DataFrame, blocked: set[tuple[str, str]], caps: dict[str, int]) -> pd.DataFrame:
    """The definition of docs/metrics.md#junk-identifiers, pair by pair: for each unblocked value of a capped type,
    the distinct values of each partner type (person-level; for cookies and devices also browser-level) seen on
    its records, and the widest of them (ties: the first type by name). Columns identifier_type,
    identifier_value, partner_type, widest_sharing; values with no partner are absent."""
    key = list(zip(observations["identifier_type"], observations["identifier_value"], strict=True))
    kept = observations[[k not in blocked for k in key]]
    capped = kept[kept["identifier_type"].isin(list(caps))]
    pairs = capped.merge(kept, on=["record_type", "record_id"], suffixes=("", "_partner"))
    partner_type, own_type = pairs["identifier_type_partner"], pairs["identifier_type"]
    eligible = (partner_type != own_type) & (partner_type.isin(PERSON_LEVEL)
                                            | (own_type.isin(BROWSER_LEVEL) & partner_type.isin(BROWSER_LEVEL)))
    counts = (pairs[eligible].groupby(["identifier_type", "identifier_value", "identifier_type_partner"])
              ["identifier_value_partner"].nunique().rename("widest_sharing").reset_index()
              .rename(columns={"identifier_type_partner": "partner_type"}))
    counts = counts.sort_values(["identifier_type", "identifier_value", "widest_sharing", "partner_type"],
                                ascending=[True, True, False, True])
    return counts.drop_duplicates(["identifier_type", "identifier_value"]).reset_index(drop=True)
