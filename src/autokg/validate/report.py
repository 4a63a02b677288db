"""The report of a validation run: its findings, the SHACL results graph, and the formats CI reads."""

from __future__ import annotations

import json
import unicodedata
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pyoxigraph as ox
from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import XSD, NamespaceManager
from rdflib.term import Node

from autokg.config import PREFIXES, SHAPES_NS
from autokg.errors import AutokgError
from autokg.rdf.loading import to_oxigraph
from autokg.rdf.safety import UNSAFE_CATEGORIES, escape, escaped
from autokg.validate.checks import Problem

SH = Namespace("http://www.w3.org/ns/shacl#")

#: severity name -> rank; a report fails at a threshold when it has a finding at or above it
SEVERITIES = {"Violation": 3, "Warning": 2, "Info": 1}
REPORT_FORMATS = ("text", "turtle", "json", "junit", "github")



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
    #: where the focus node is written, when it was found in an input file
    file: str | None = None
    line: int | None = None


@dataclass
class ValidationReport:
    """What a validation run found, and how long it took."""

    findings: list[Finding]
    results_graph: Graph
    seconds: float
    focus_types: dict[str, list[str]] = field(default_factory=dict)
    #: how many triples were validated
    triples: int = 0
    #: the project's files that the validated files were checked beside (file mode)
    context: list[Path] = field(default_factory=list)

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

    def render(self, fmt: str = "text", threshold: str = "Violation") -> str:
        """The report as text (grouped by focus node), Turtle (the SHACL results graph), JSON, JUnit XML or
        GitHub workflow commands; findings at or above `threshold` are failures in JUnit and errors on GitHub.

        Every format escapes control and invisible characters, so data cannot write into a terminal or a CI log.
        """
        if fmt == "text":
            return self.as_text()
        if fmt == "turtle":
            return safe_turtle(self.results_graph)
        if fmt == "json":
            return json_escape(json.dumps(
                {
                    "conforms": self.conforms,
                    "counts": {s: self.count(s) for s in SEVERITIES},
                    "seconds": round(self.seconds, 3),
                    "findings": [asdict(f) for f in self.findings],
                },
                indent=2,
                ensure_ascii=False,
            ))
        if fmt == "junit":
            return self.as_junit(threshold)
        if fmt == "github":
            return self.as_github(threshold)
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
        return "\n".join(escape(line) for line in lines) + "\n"

    def as_junit(self, threshold: str) -> str:
        """JUnit XML: one test case per finding, failed when at or above `threshold`, placed at its focus node's file and line."""
        suite = ET.Element("testsuite", name="autokg validate", time=f"{self.seconds:.3f}")
        failures = 0
        for f in self.findings:
            case = ET.SubElement(suite, "testcase", classname=f.file or "autokg", name=f"{f.focus} {f.path or '(node)'} [{f.shape}]")
            if f.file:
                case.set("file", f.file)
            if f.line:
                case.set("line", str(f.line))
            detail = f"{f.severity} on {f.focus}" + (f" at {f.path}" if f.path else "") + (f", value {f.value}" if f.value else "")
            if SEVERITIES[f.severity] >= SEVERITIES[threshold]:
                failures += 1
                ET.SubElement(case, "failure", type=f.severity, message=f.message).text = detail
            else:
                ET.SubElement(case, "system-out").text = f"{detail}: {f.message}"
        if not self.findings:
            ET.SubElement(suite, "testcase", classname="autokg", name="conforms")
        suite.set("tests", str(max(1, len(self.findings))))
        suite.set("failures", str(failures))
        suite.set("errors", "0")
        root = ET.Element("testsuites", name="autokg", tests=suite.get("tests"), failures=str(failures), errors="0")
        root.append(suite)
        for element in root.iter():
            element.attrib = {k: escape(v) for k, v in element.attrib.items()}
            if element.text:
                element.text = escape(element.text)
        ET.indent(root)
        return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

    def as_github(self, threshold: str) -> str:
        """GitHub Actions workflow commands: an annotation per finding at its file and line, then the summary."""
        lines = []
        for f in self.findings:
            level = "error" if SEVERITIES[f.severity] >= SEVERITIES[threshold] else ("warning" if f.severity == "Warning" else "notice")
            where = [f"file={github_property(f.file)}"] if f.file else []
            where += [f"line={f.line}"] if f.line else []
            title = f"{f.severity}: {f.focus}" + (f" {f.path}" if f.path else "")
            where.append(f"title={github_property(title)}")
            value = f" (value {f.value})" if f.value not in (None, f.focus) else ""
            lines.append(f"::{level} {','.join(where)}::{github_data(f.message + value + ' [' + f.shape + ']')}")
        lines.append(github_data(self.summary_line()))
        return "\n".join(lines) + "\n"


def github_data(text: str) -> str:
    """Text for a workflow command's message: % and line breaks encoded as GitHub decodes them, other controls escaped.

    >>> github_data("50%\\n::error::x")
    '50%25%0A::error::x'
    """
    text = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return escape(text)


def github_property(text: str) -> str:
    """Text for a workflow command's property (file, title): also , and : encoded."""
    return github_data(text).replace(":", "%3A").replace(",", "%2C")


def json_escape(text: str) -> str:
    """JSON text with invisible and line-breaking characters written as \\u escapes (json.dumps keeps them raw)."""
    out = []
    for char in text:
        if ord(char) >= 0x7F and unicode_unsafe(char):
            code = ord(char)
            if code > 0xFFFF:
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04X}\\u{0xDC00 + (code & 0x3FF):04X}")
            else:
                out.append(f"\\u{code:04X}")
        else:
            out.append(char)
    return "".join(out)


def unicode_unsafe(char: str) -> bool:
    """Whether autokg escapes this character in what it prints."""
    return unicodedata.category(char) in UNSAFE_CATEGORIES


def safe_turtle(graph: Graph) -> str:
    """The graph as Turtle written by Oxigraph (which escapes line breaks in strings), with the characters it leaves
    raw (bidi controls, line separators) escaped too: Turtle reads \\u escapes in strings and IRIs alike."""
    # sorted, so that each node's triples come together and Oxigraph writes them as one block
    triples = [ox.Triple(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o)) for s, p, o in sorted(graph)]
    text = ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=dict(PREFIXES)).decode("utf-8")
    # tabs and line breaks outside strings are layout; inside strings Oxigraph has escaped them already
    return "".join(escaped(c) if c not in "\n\t" and unicode_unsafe(c) else c for c in text)

SEVERITY_IRIS = {"Violation": SH.Violation, "Warning": SH.Warning, "Info": SH.Info}


def add_problems(results: Graph, problems: Iterable[Problem]) -> None:
    """Write the checks' problems into a SHACL report as results whose source shape is akgsh:<check>."""
    report = results.value(None, RDF.type, SH.ValidationReport)
    for problem in problems:
        result = BNode()
        check = URIRef(SHAPES_NS + problem.check)
        results.add((report, SH.result, result))
        results.add((result, RDF.type, SH.ValidationResult))
        results.add((result, SH.focusNode, problem.focus))
        results.add((result, SH.resultSeverity, SEVERITY_IRIS[problem.severity]))
        results.add((result, SH.resultMessage, Literal(problem.message, lang="en")))
        results.add((result, SH.sourceShape, check))
        results.add((result, SH.sourceConstraintComponent, check))
        if problem.path is not None:
            results.add((result, SH.resultPath, problem.path))
        if problem.value is not None:
            results.add((result, SH.value, problem.value))


def keep_results(results: Graph, focus: set[Node]) -> Graph:
    """A copy of a SHACL report with only the results whose focus node is in `focus`."""
    report = results.value(None, RDF.type, SH.ValidationReport)
    kept = Graph()
    kept.add((report, RDF.type, SH.ValidationReport))
    for result in results.objects(report, SH.result):
        if results.value(result, SH.focusNode) in focus:
            kept.add((report, SH.result, result))
            kept += results.cbd(result)
    return kept


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
