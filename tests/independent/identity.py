"""Identity resolution recomputed without the warehouse's SQL: networkx's connected components."""

from __future__ import annotations

from collections.abc import Iterable

import networkx as nx


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
