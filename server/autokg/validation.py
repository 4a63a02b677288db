"""SHACL validation of autokg data and the report that CI pipelines read."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from pyshacl import validate as shacl_validate
from rdflib import RDF, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import XSD, NamespaceManager

from autokg.config import PREFIXES
from autokg.errors import AutokgError
from autokg.loading import Project

SH = Namespace("http://www.w3.org/ns/shacl#")

#: severity name -> rank; a report fails at a threshold when it has a finding at or above it
SEVERITIES = {"Violation": 3, "Warning": 2, "Info": 1}
REPORT_FORMATS = ("text", "turtle", "json")



def namespace_manager() -> NamespaceManager:
    """A namespace manager with autokg's prefixes, for compact output."""
    manager = NamespaceManager(Graph(), bind_namespaces="none")
    for prefix, namespace in PREFIXES.items():
        manager.bind(prefix, namespace, override=True)
    return manager


def compact(term: object, manager: NamespaceManager) -> str:
    """A term as a prefixed name where one fits, else in N-Triples form."""
    if isinstance(term, URIRef):
        try:
            return manager.normalizeUri(term)
        except Exception:
            return f"<{term}>"
    if isinstance(term, Literal):
        if term.datatype == XSD.string:
            # Oxigraph makes every plain literal xsd:string; show it as written
            return Literal(str(term)).n3(manager)
        return term.n3(manager)
    return str(term)


@dataclass(frozen=True)
class Finding:
    """One validation result."""

    focus: str
    severity: str
    message: str
    shape: str
    component: str
    path: str | None = None
    value: str | None = None


@dataclass
class ValidationReport:
    """What a validation run found, and how long it took."""

    findings: list[Finding]
    results_graph: Graph
    seconds: float
    focus_types: dict[str, list[str]] = field(default_factory=dict)

    def count(self, severity: str) -> int:
        """How many findings have this severity."""
        return sum(1 for f in self.findings if f.severity == severity)

    @property
    def conforms(self) -> bool:
        """True when there is no violation (warnings and infos are allowed)."""
        return self.count("Violation") == 0

    def fails(self, threshold: str = "Violation") -> bool:
        """True when some finding is at or above `threshold` (Violation, Warning or Info)."""
        if threshold not in SEVERITIES:
            raise AutokgError(f"Unknown severity '{threshold}': use one of {', '.join(SEVERITIES)}")
        return any(SEVERITIES[f.severity] >= SEVERITIES[threshold] for f in self.findings)

    def summary_line(self) -> str:
        """One line: counts by severity and the verdict."""
        counts = ", ".join(f"{self.count(s)} {s.lower()}{'s' if self.count(s) != 1 else ''}" for s in SEVERITIES)
        verdict = "conforms" if self.conforms else "does not conform"
        nodes = len({f.focus for f in self.findings})
        return f"{counts} on {nodes} node{'s' if nodes != 1 else ''}; {verdict}"

    def render(self, fmt: str = "text") -> str:
        """The report as text (grouped by focus node), Turtle (the SHACL results graph) or JSON."""
        if fmt == "text":
            return self.as_text()
        if fmt == "turtle":
            return self.results_graph.serialize(format="longturtle")
        if fmt == "json":
            return json.dumps(
                {
                    "conforms": self.conforms,
                    "counts": {s: self.count(s) for s in SEVERITIES},
                    "seconds": round(self.seconds, 3),
                    "findings": [asdict(f) for f in self.findings],
                },
                indent=2,
                ensure_ascii=False,
            )
        raise AutokgError(f"Unknown report format '{fmt}': use one of {', '.join(REPORT_FORMATS)}")

    def as_text(self) -> str:
        """A readable report: one block per focus node, its findings most severe first."""
        by_focus: dict[str, list[Finding]] = defaultdict(list)
        for finding in self.findings:
            by_focus[finding.focus].append(finding)
        lines: list[str] = []
        order = sorted(by_focus, key=lambda n: (-max(SEVERITIES[f.severity] for f in by_focus[n]), n))
        for focus in order:
            types = ", ".join(self.focus_types.get(focus, []))
            lines.append(f"{focus}" + (f"  ({types})" if types else ""))
            shown = set()
            for f in sorted(by_focus[focus], key=lambda f: (-SEVERITIES[f.severity], f.path or "", f.message)):
                where = f.path or "(node)"
                value = f"  value {f.value}" if f.value not in (None, f.focus) else ""
                entry = (f"  {f.severity:<9} {where}{value}", f"            {f.message}  [{f.shape}]")
                # one value can break several constraints of a shape with the same message: say it once
                if entry not in shown:
                    shown.add(entry)
                    lines.extend(entry)
            lines.append("")
        lines.append(self.summary_line())
        return "\n".join(lines) + "\n"


class CountCachingGraph(Graph):
    """A graph that remembers its size between changes.

    pyshacl asks for len() of the data graph for every shape and focus node, and on an Oxigraph
    store each len() is a COUNT query.
    """

    _size: int | None = None

    def __len__(self) -> int:
        if self._size is None:
            self._size = super().__len__()
        return self._size

    def add(self, triple):  # type: ignore[no-untyped-def]
        self._size = None
        return super().add(triple)

    def addN(self, quads):  # type: ignore[no-untyped-def]
        self._size = None
        return super().addN(quads)

    def remove(self, triple):  # type: ignore[no-untyped-def]
        self._size = None
        return super().remove(triple)


def validate_graph(data: Graph, project: Project) -> ValidationReport:
    """Validate `data` against autokg's shapes, with the ontology as ont_graph and the SKOS vocabularies merged in.

    Inference stays off: RDFS inference would make a wrongly typed value valid through rdfs:range.
    The data sits in an Oxigraph store, because pyshacl runs each SPARQL constraint once per focus node
    and rdflib's own engine would re-parse the query every time.
    """
    data_graph = CountCachingGraph(store="Oxigraph")
    for part in (data, project.vocabularies):
        for triple in part:
            data_graph.add(triple)
    started = time.perf_counter()
    _, results_graph, _ = shacl_validate(
        data_graph,
        shacl_graph=project.shapes,
        ont_graph=project.ontology,
        inference="none",
        abort_on_first=False,
        allow_infos=True,
        allow_warnings=True,
        inplace=True,
    )
    seconds = time.perf_counter() - started
    manager = namespace_manager()
    findings = sorted(read_findings(results_graph, manager), key=lambda f: (f.focus, f.shape, f.message))
    types = {
        finding.focus: sorted(compact(t, manager) for t in data_graph.objects(expand(finding.focus, manager), RDF.type))
        for finding in findings
    }
    results_graph.namespace_manager = manager
    return ValidationReport(findings=findings, results_graph=results_graph, seconds=seconds, focus_types=types)


def expand(name: str, manager: NamespaceManager) -> URIRef:
    """The IRI behind a compact name made by `compact`."""
    if name.startswith("<") and name.endswith(">"):
        return URIRef(name[1:-1])
    try:
        return manager.expand_curie(name)
    except Exception:
        return URIRef(name)


def describe_path(path: object, graph: Graph, manager: NamespaceManager) -> str:
    """A SHACL property path in SPARQL syntax: a predicate, an alternative or an inverse."""
    if isinstance(path, URIRef):
        return compact(path, manager)
    alternatives = graph.value(path, SH.alternativePath)
    if alternatives is not None:
        return "|".join(describe_path(p, graph, manager) for p in Collection(graph, alternatives))
    inverse = graph.value(path, SH.inversePath)
    if inverse is not None:
        return "^" + describe_path(inverse, graph, manager)
    return "(path expression)"


def read_findings(results: Graph, manager: NamespaceManager) -> list[Finding]:
    """Turn the sh:ValidationResult nodes of a SHACL report into findings."""
    findings = []
    # only top-level results: those nested under sh:detail repeat what their parent result says
    for result in results.objects(None, SH.result):
        def one(predicate: URIRef) -> object:
            return results.value(result, predicate)

        severity = str(one(SH.resultSeverity)).rsplit("#", 1)[-1]
        shape = one(SH.sourceShape)
        messages = sorted(str(m) for m in results.objects(result, SH.resultMessage))
        path = one(SH.resultPath)
        value = one(SH.value)
        findings.append(
            Finding(
                focus=compact(one(SH.focusNode), manager),
                severity=severity,
                message=messages[0] if messages else "(no message)",
                shape=compact(shape, manager) if isinstance(shape, URIRef) else "(anonymous shape)",
                component=compact(one(SH.sourceConstraintComponent), manager),
                path=describe_path(path, results, manager) if path is not None else None,
                value=compact(value, manager) if value is not None else None,
            )
        )
    return findings
