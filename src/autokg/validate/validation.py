"""SHACL validation of autokg data and the report that CI pipelines read."""

from __future__ import annotations

import contextlib
import json
import re
import time
import unicodedata
import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import pyoxigraph as ox
from oxrdflib import OxigraphStore
from pyshacl import validate as shacl_validate
from rdflib import RDF, BNode, Graph, Literal, Namespace, URIRef
from rdflib.collection import Collection
from rdflib.namespace import XSD, NamespaceManager
from rdflib.term import Node

from autokg.config import PREFIXES, SHAPES_NS
from autokg.errors import AutokgError
from autokg.rdf.loading import MAX_INPUT_BYTES, UNSAFE_CATEGORIES, EmptyInputError, Project, escape, escaped, read_quads, to_oxigraph
from autokg.validate.checks import Problem, graph_checks, ontology_terms_in_data, source_checks
from autokg.validate.engine import LeanOxigraphStore, caching_shapes, faster_pyshacl

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


    def load(self, quads: Iterable[ox.Quad]) -> None:
        """Add Oxigraph quads straight to the store, without turning each into rdflib terms and back."""
        self._size = None
        name = ox.BlankNode(str(self.identifier))
        self.store._inner.extend(ox.Quad(q.subject, q.predicate, q.object, name) for q in quads)  # oxrdflib's Store


def oxigraph_graph() -> CountCachingGraph:
    """An empty graph on an Oxigraph store, where pyshacl's SPARQL constraints run fast."""
    return CountCachingGraph(store=LeanOxigraphStore())


@dataclass
class LoadedFiles:
    """Input files loaded into one Oxigraph-backed graph, with the nodes that each file describes."""

    graph: CountCachingGraph
    paths: list[Path]
    subjects: set[Node]


def load_files(paths: list[Path], max_bytes: int = MAX_INPUT_BYTES, graph: CountCachingGraph | None = None,
               record: bool = True, allow_empty: bool = False) -> LoadedFiles:
    """Stream RDF files into an Oxigraph-backed graph; raises UnreadableInputError on the first bad file (an empty
    one too, unless `allow_empty`: the project's article files, one of which is empty until its first fact)."""
    graph = graph if graph is not None else oxigraph_graph()
    subjects: set[Node] = set()
    for path in paths:
        quads = read_quads(path, max_bytes)
        if record:
            quads = remember_subjects(quads, subjects)
        try:
            graph.load(quads)
        except EmptyInputError:
            if not allow_empty:
                raise
    return LoadedFiles(graph, list(paths), {to_rdflib_node(s) for s in subjects})


def remember_subjects(quads: Iterable[ox.Quad], subjects: set) -> Iterable[ox.Quad]:
    """Pass the quads on, noting their subjects."""
    for quad in quads:
        subjects.add(quad.subject)
        yield quad


def to_rdflib_node(term: ox.NamedNode | ox.BlankNode) -> Node:
    """An Oxigraph subject as an rdflib node."""
    return URIRef(term.value) if isinstance(term, ox.NamedNode) else BNode(term.value)


def validate_files(paths: list[Path], project: Project, max_bytes: int = MAX_INPUT_BYTES, alone: bool = False) -> ValidationReport:
    """Validate files in the context of the project's data: the files replace their namesakes in the project and
    join the rest, and only findings on nodes that the files describe are reported. With `alone`, the files
    are validated by themselves.

    Raises UnreadableInputError naming the file and line of the first file that cannot be read.
    """
    named = load_files(paths, max_bytes)
    if alone:
        return locate(validate_graph(named.graph, project, sources=True), paths, project)
    own = {path.resolve() for path in paths}
    context = [path for path in project.files.data if path.resolve() not in own]
    load_files(context, graph=named.graph, record=False, allow_empty=True)
    report = validate_graph(named.graph, project, sources=True, only=named.subjects)
    report.context = context
    return locate(report, paths, project)


def validate_project(project: Project) -> ValidationReport:
    """Validate the project's own data, with every check."""
    loaded = load_files(project.files.data, record=False, allow_empty=True)
    return locate(validate_graph(loaded.graph, project, sources=True), project.files.data, project)


def validate_graph(data: Graph, project: Project, *, sources: bool = False, only: set[Node] | None = None,
                   fast: bool = True) -> ValidationReport:
    """Validate `data` against autokg's shapes, with the ontology as ont_graph and the SKOS vocabularies merged in.

    Inference stays off: RDFS inference would make a wrongly typed value valid through rdfs:range.
    The data sits in an Oxigraph store, because pyshacl runs each SPARQL constraint once per focus node
    and rdflib's own engine would re-parse the query every time. Triples that describe the ontology's terms
    are taken out first and reported: the ontology, not the data, says what a class is. The checks of
    autokg.checks run beside SHACL; with `sources`, so do those that read the source texts and the Wikidata
    reference list. With `only`, findings on other focus nodes are left out. `fast` runs pyshacl with the
    speed-ups of autokg.shacl_engine (False: pyshacl as released, for the tests that compare the two). (pyshacl's own focus_nodes
    option is not used: it also narrows the nodes that nested shapes see, and so reports what is not there.)
    """
    if isinstance(data, CountCachingGraph) and isinstance(data.store, OxigraphStore):
        data_graph = data
    else:
        data_graph = oxigraph_graph()
        data_graph.load(ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o)) for s, p, o in data)
    started = time.perf_counter()
    defined = {t for part in (project.ontology, project.vocabularies, project.shapes) for t in part.subjects() if isinstance(t, URIRef)}
    hidden = ontology_terms_in_data(data_graph, defined)
    for triple, _ in hidden:
        data_graph.remove(triple)
    problems = [problem for _, problem in hidden] + list(graph_checks(data_graph, project.ontology, project.vocabularies))
    if sources:
        problems += source_checks(data_graph, project.files)
    triples = len(data_graph)
    data_graph.load(ox.Quad(to_oxigraph(s), to_oxigraph(p), to_oxigraph(o)) for s, p, o in project.vocabularies)
    with faster_pyshacl() if fast else contextlib.nullcontext():
        _, results_graph, _ = shacl_validate(
            data_graph,
            shacl_graph=caching_shapes(project.shapes) if fast else project.shapes,
            ont_graph=project.ontology,
            inference="none",
            abort_on_first=False,
            allow_infos=True,
            allow_warnings=True,
            inplace=True,
        )
    add_problems(results_graph, problems)
    if only is not None:
        results_graph = keep_results(results_graph, only)
    # SHACL 1.0, 3.6.1: a report conforms only when it has no results at all (the exit status follows --fail-on)
    report_node = results_graph.value(None, RDF.type, SH.ValidationReport)
    results_graph.set((report_node, SH.conforms, Literal((report_node, SH.result, None) not in results_graph)))
    seconds = time.perf_counter() - started
    manager = namespace_manager()
    findings = sorted(read_findings(results_graph, manager), key=lambda f: (f.focus, f.shape, f.message))
    types = {
        finding.focus: sorted(compact(t, manager) for t in data_graph.objects(expand(finding.focus, manager), RDF.type))
        for finding in findings
    }
    results_graph.namespace_manager = manager
    return ValidationReport(findings=findings, results_graph=results_graph, seconds=seconds, focus_types=types, triples=triples)


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


def locate(report: ValidationReport, paths: list[Path], project: Project) -> ValidationReport:
    """The report with each finding placed at the file and line where its focus node is first written as a subject."""
    manager = namespace_manager()
    wanted = {f.focus: str(expand(f.focus, manager)) for f in report.findings}
    found: dict[str, tuple[str, int]] = {}
    for path in paths:
        for iri, line in subject_lines(path, set(wanted.values()) - {iri for iri, _ in found.items()}).items():
            found.setdefault(iri, (display_path(path, project), line))
    report.findings = [
        replace(f, file=found[wanted[f.focus]][0], line=found[wanted[f.focus]][1]) if wanted[f.focus] in found else f
        for f in report.findings
    ]
    return report


def display_path(path: Path, project: Project) -> str:
    """A path relative to the project root where it lies under it, as CI annotations want it."""
    try:
        return str(path.resolve().relative_to(project.files.root))
    except ValueError:
        return str(path)


PREFIX_LINE = re.compile(r"^\s*(?:@prefix|PREFIX)\s+([A-Za-z][\w.-]*)?:\s*<([^>]*)>", re.IGNORECASE)
ID_VALUE = re.compile(r'"@id"\s*:\s*"([^"]+)"|rdf:about="([^"]+)"')


def subject_lines(path: Path, iris: set[str]) -> dict[str, int]:
    """The first line at which each IRI starts a line (as <IRI>, a prefixed name, a JSON-LD @id or an rdf:about)."""
    if not iris:
        return {}
    prefixes: dict[str, str] = {}
    found: dict[str, int] = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            match = PREFIX_LINE.match(line)
            if match:
                prefixes[match.group(1) or ""] = match.group(2)
                continue
            token = line.split(None, 1)[0] if line[:1] not in (" ", "\t", "") and line.strip() else ""
            candidates = []
            if token.startswith("<") and token.endswith(">"):
                candidates.append(token[1:-1])
            elif ":" in token:
                prefix, _, local = token.partition(":")
                if prefix in prefixes:
                    candidates.append(prefixes[prefix] + local)
            for found_id in ID_VALUE.finditer(line):
                value = found_id.group(1) or found_id.group(2)
                prefix, _, local = value.partition(":")
                candidates.append(value)
                if prefix in prefixes or prefix in PREFIXES:
                    candidates.append(prefixes.get(prefix, PREFIXES.get(prefix, "")) + local)
            for iri in candidates:
                if iri in iris and iri not in found:
                    found[iri] = number
            if len(found) == len(iris):
                break
    return found


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
