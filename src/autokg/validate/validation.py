"""Running a SHACL validation of autokg data: loading the files, the checks beside SHACL, pyshacl, and placing
each finding at its file and line."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pyoxigraph as ox
from oxrdflib import OxigraphStore
from pyshacl import validate as shacl_validate
from rdflib import RDF, BNode, Graph, Literal, URIRef
from rdflib.term import Node

from autokg.config import PREFIXES
from autokg.rdf.loading import MAX_INPUT_BYTES, EmptyInputError, Project, read_quads, to_oxigraph
from autokg.validate.checks import graph_checks, ontology_terms_in_data, source_checks
from autokg.validate.engine import LeanOxigraphStore, caching_shapes, faster_pyshacl
from autokg.validate.report import SH, ValidationReport, add_problems, compact, expand, keep_results, namespace_manager, read_findings


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
        if isinstance(self.store, LeanOxigraphStore):
            self.store.thaw()
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
