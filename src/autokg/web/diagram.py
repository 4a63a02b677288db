"""Geometry for the pictures on entity pages: the neighbourhood diagram and the figures chart.

Only coordinates are computed here; the templates draw them as inline SVG, so every label goes through
the template engine's escaping and the pictures need no JavaScript.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from autokg.query.entities import Figure, Relationship

WIDTH, HEIGHT = 760, 520
MAX_NEIGHBOURS = 24


@dataclass
class Node:
    """A box on the diagram."""

    x: float
    y: float
    label: str
    iri: str
    centre: bool = False


@dataclass
class Edge:
    """A curved edge from the centre to a neighbour, labelled with the relationship's type and status."""

    path: str
    label_x: float
    label_y: float
    label: str
    rumour: bool
    iri: str


@dataclass
class Diagram:
    """Nodes and edges, ready for the template."""

    width: int
    height: int
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    left_out: int = 0


def neighbourhood(iri: str, label: str, ties: list[Relationship]) -> Diagram:
    """The entity in the centre, the parties tied to it on a circle, one curve per relationship.

    >>> from autokg.query.entities import Relationship
    >>> tie = Relationship("r", "R", "t", "Joint venture formation", "partner", "announced",
    ...                    parties=[("b", "B", "partner")])
    >>> d = neighbourhood("a", "A", [tie])
    >>> [n.label for n in d.nodes], d.edges[0].label
    (['A', 'B'], 'Joint venture formation · announced')
    """
    cx, cy = WIDTH / 2, HEIGHT / 2
    diagram = Diagram(WIDTH, HEIGHT, [Node(cx, cy, label, iri, centre=True)])
    neighbours: dict[str, str] = {}
    for tie in ties:
        for party, party_label, _ in tie.parties:
            neighbours.setdefault(party, party_label)
    shown = list(neighbours)[:MAX_NEIGHBOURS]
    diagram.left_out = len(neighbours) - len(shown)
    radius_x, radius_y = WIDTH / 2 - 110, HEIGHT / 2 - 50
    places: dict[str, tuple[float, float]] = {}
    for index, party in enumerate(shown):
        angle = -math.pi / 2 + 2 * math.pi * index / max(len(shown), 1)
        places[party] = (cx + radius_x * math.cos(angle), cy + radius_y * math.sin(angle))
        diagram.nodes.append(Node(*places[party], neighbours[party], party))
    # ties of the same type, status and certainty to the same party share one curve, counted in its label
    merged: dict[tuple[str, str, str, bool], list[Relationship]] = {}
    for tie in ties:
        for party, _, _ in tie.parties:
            if party in places:
                merged.setdefault((party, tie.type_label, tie.status, tie.rumour), []).append(tie)
    drawn: dict[str, int] = {}
    for (party, _, _, _), group in merged.items():
        nth = drawn.get(party, 0)
        drawn[party] = nth + 1
        diagram.edges.append(curve(cx, cy, *places[party], nth, group[0], len(group)))
    return diagram


def curve(x1: float, y1: float, x2: float, y2: float, nth: int, tie: Relationship, count: int = 1) -> Edge:
    """The nth curve between two points: parallel ties bend alternately to either side."""
    mx, my = (x1 + x2) / 2, (y1 + y2) / 2
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    normal_x, normal_y = -(y2 - y1) / length, (x2 - x1) / length
    bend = 0 if nth == 0 else 26 * ((nth + 1) // 2) * (1 if nth % 2 else -1)
    qx, qy = mx + normal_x * bend * 2, my + normal_y * bend * 2
    label = tie.type_label + (f" · {tie.status}" if tie.status else "") + (f" ×{count}" if count > 1 else "")
    return Edge(f"M{x1:.1f},{y1:.1f} Q{qx:.1f},{qy:.1f} {x2:.1f},{y2:.1f}", mx + normal_x * bend, my + normal_y * bend,
                label, tie.rumour, tie.iri)


@dataclass
class Chart:
    """One metric's values over its periods, as points of a small line chart."""

    metric: str
    width: int
    height: int
    points: list[tuple[float, float, str, str]]  # x, y, period, shown value
    path: str


def charts(grouped: dict[str, list[Figure]], width: int = 360, height: int = 160) -> list[Chart]:
    """A chart for each metric that has numeric values for more than one period.

    >>> from autokg.query.entities import Figure
    >>> c = charts({"sales": [Figure("sales", "2022", 1.0, "1", ""), Figure("sales", "2023", 3.0, "3", "")]})
    >>> c[0].metric, [p[2] for p in c[0].points]
    ('sales', ['2022', '2023'])
    >>> charts({"sales": [Figure("sales", "2022", 1.0, "1", "")]})
    []
    """
    drawn = []
    for metric, values in grouped.items():
        series = [f for f in values if f.value is not None and f.when]
        periods = {f.when for f in series}
        # two values for one period (different rankings, say) would make a misleading line
        if len(periods) < 2 or len(periods) != len(series):
            continue
        low, high = min(f.value for f in series), max(f.value for f in series)  # type: ignore[type-var]
        span = (high - low) or abs(high) or 1.0
        left, right, top, bottom = 40, width - 20, 20, height - 30
        points = []
        for index, f in enumerate(series):
            x = left + (right - left) * index / (len(series) - 1)
            y = bottom - (bottom - top) * ((f.value - low) / span if high != low else 0.5)  # type: ignore[operator]
            points.append((x, y, f.when, f.shown))
        path = "M" + " L".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in points)
        drawn.append(Chart(metric, width, height, points, path))
    return drawn
