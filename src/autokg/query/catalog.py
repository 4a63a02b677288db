"""The competency-query catalogue: .rq files with a header of title, question and parameters."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

import pyoxigraph as ox

from autokg.config import RESOURCE_NS, VOCAB_NS
from autokg.errors import AutokgError
from autokg.rdf.sparql import query_form, tokens

XSD = "http://www.w3.org/2001/XMLSchema#"
PARAMETER_LINE = re.compile(r"^#\s+(?P<name>[A-Za-z_]\w*)\s+\((?P<type>\w+),\s*example\s+(?P<example>[^)]+)\):\s*(?P<description>.+)$")
HEADER_FIELD = re.compile(r"^#\s*(?P<key>title|question|parameters|rdflib):\s*(?P<value>.*)$")


@dataclass(frozen=True)
class Parameter:
    """A parameter of a competency query: a variable of the query that the caller may bind."""

    name: str
    type: str
    example: str
    description: str


@dataclass(frozen=True)
class CompetencyQuery:
    """A query file of the catalogue, with its header."""

    name: str
    path: Path
    title: str
    question: str
    text: str
    parameters: tuple[Parameter, ...] = ()
    rdflib_note: str | None = None
    form: str = "SELECT"
    ordered: bool = False
    examples: dict[str, str] = field(default_factory=dict)

    @property
    def federated(self) -> bool:
        """Whether the query calls a remote endpoint with SERVICE (so it needs the network to answer)."""
        return any(kind == "word" and value.upper() == "SERVICE" for kind, value in tokens(self.text))

    def parameter(self, name: str) -> Parameter:
        """The parameter called `name`; raises AutokgError naming the known ones."""
        for parameter in self.parameters:
            if parameter.name == name:
                return parameter
        known = ", ".join(p.name for p in self.parameters) or "none"
        raise AutokgError(f"Unknown parameter '{name}' for query '{self.name}' (its parameters: {known})")


def read_query_file(path: Path, catalogue: bool = True) -> CompetencyQuery:
    """Read a .rq file and its header; raises AutokgError naming the file and line of a bad header.

    Catalogue queries must have a title and a question; a user's query file need not.
    """
    if not path.is_file():
        raise AutokgError("No such query file", path=path)
    text = path.read_text(encoding="utf-8")
    fields: dict[str, str] = {}
    parameters: list[Parameter] = []
    in_parameters = False
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.startswith("#"):
            break
        header = HEADER_FIELD.match(line)
        if header:
            fields[header["key"]] = header["value"].strip()
            in_parameters = header["key"] == "parameters"
            continue
        if in_parameters and line.strip("# "):
            match = PARAMETER_LINE.match(line)
            if not match:
                raise AutokgError(
                    "Bad parameter line: write '#   name (type, example value): what it does'", path=path, line=number
                )
            if match["type"] not in PARAMETER_TYPES:
                raise AutokgError(
                    f"Unknown parameter type '{match['type']}': use one of {', '.join(PARAMETER_TYPES)}", path=path, line=number
                )
            parameters.append(Parameter(match["name"], match["type"], match["example"].strip(), match["description"].strip()))
    for key in ("title", "question"):
        if not catalogue:
            fields.setdefault(key, path.name)
        if not fields.get(key):
            raise AutokgError(f"The header has no '# {key}:' line", path=path, line=1)
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    return CompetencyQuery(
        name=path.stem,
        path=path,
        title=fields["title"],
        question=fields["question"],
        text=text,
        parameters=tuple(parameters),
        rdflib_note=fields.get("rdflib"),
        form=query_form(text),
        ordered=bool(re.search(r"\bORDER\s+BY\b", body, re.IGNORECASE)),
    )


def load_catalog(folder: Path) -> dict[str, CompetencyQuery]:
    """Every query of the catalogue folder, by name."""
    return {path.stem: read_query_file(path) for path in sorted(folder.glob("*.rq"))}


def find_query(catalog: dict[str, CompetencyQuery], name_or_path: str) -> CompetencyQuery:
    """A catalogue query by name, or a query file by path; raises AutokgError when neither exists."""
    if name_or_path in catalog:
        return catalog[name_or_path]
    path = Path(name_or_path)
    if path.suffix == ".rq" or path.exists():
        return read_query_file(path, catalogue=False)
    close = [name for name in catalog if name_or_path.lower() in name.lower()]
    hint = f" Did you mean: {', '.join(close)}?" if close else " `autokg queries` lists the catalogue."
    raise AutokgError(f"Unknown query '{name_or_path}'.{hint}")


def parse_iri(name: str, value: str) -> ox.NamedNode:
    """An IRI parameter: a full http(s) IRI, an akr: name, or a bare autokg slug.

    >>> parse_iri("org", "akr:saic-motor").value
    'https://w3id.org/autokg/id/saic-motor'
    >>> parse_iri("org", "not an iri")
    Traceback (most recent call last):
    ...
    autokg.errors.AutokgError: Parameter 'org': 'not an iri' is not an IRI (give https://…, akr:<slug> or a slug such as saic-motor)
    """
    if value.startswith("akr:"):
        value = RESOURCE_NS + value[4:]
    elif re.fullmatch(r"[a-z0-9]+(--?[a-z0-9]+)*", value):
        value = RESOURCE_NS + value
    if not re.fullmatch(r"https?://[^\s<>\"{}|\\^`]+", value):
        raise AutokgError(
            f"Parameter '{name}': '{value}' is not an IRI (give https://…, akr:<slug> or a slug such as saic-motor)"
        )
    return ox.NamedNode(value)


def parse_date(name: str, value: str) -> ox.Literal:
    """A date parameter: YYYY-MM-DD, YYYY-MM or YYYY, typed with the matching XSD datatype.

    >>> parse_date("after", "2015-03").datatype.value
    'http://www.w3.org/2001/XMLSchema#gYearMonth'
    >>> parse_date("after", "2015-13-01")
    Traceback (most recent call last):
    ...
    autokg.errors.AutokgError: Parameter 'after': '2015-13-01' is not a date (give YYYY-MM-DD, YYYY-MM or YYYY)
    """
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            date.fromisoformat(value)
            return ox.Literal(value, datatype=ox.NamedNode(XSD + "date"))
        if re.fullmatch(r"\d{4}-\d{2}", value) and 1 <= int(value[5:]) <= 12:
            return ox.Literal(value, datatype=ox.NamedNode(XSD + "gYearMonth"))
        if re.fullmatch(r"\d{4}", value):
            return ox.Literal(value, datatype=ox.NamedNode(XSD + "gYear"))
    except ValueError:
        pass
    raise AutokgError(f"Parameter '{name}': '{value}' is not a date (give YYYY-MM-DD, YYYY-MM or YYYY)")


def parse_integer(name: str, value: str) -> ox.Literal:
    """An integer parameter."""
    if not re.fullmatch(r"[+-]?\d+", value):
        raise AutokgError(f"Parameter '{name}': '{value}' is not an integer")
    return ox.Literal(str(int(value)), datatype=ox.NamedNode(XSD + "integer"))


def parse_decimal(name: str, value: str) -> ox.Literal:
    """A decimal parameter."""
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise AutokgError(f"Parameter '{name}': '{value}' is not a number") from None
    if not number.is_finite():
        raise AutokgError(f"Parameter '{name}': '{value}' is not a finite number")
    return ox.Literal(str(number), datatype=ox.NamedNode(XSD + "decimal"))


def parse_string(name: str, value: str) -> ox.Literal:
    """A string parameter (a plain literal)."""
    if not value:
        raise AutokgError(f"Parameter '{name}': give a non-empty string")
    return ox.Literal(value)


def parse_concept(name: str, value: str) -> ox.NamedNode:
    """A vocabulary parameter: akgv:<name>, a bare concept name, or a full IRI."""
    if value.startswith("akgv:"):
        value = VOCAB_NS + value[5:]
    elif re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", value):
        value = VOCAB_NS + value
    return parse_iri(name, value)


PARAMETER_TYPES = {
    "iri": parse_iri,
    "concept": parse_concept,
    "date": parse_date,
    "integer": parse_integer,
    "decimal": parse_decimal,
    "string": parse_string,
}


def bind_parameters(query: CompetencyQuery, raw: dict[str, str]) -> dict[str, ox.NamedNode | ox.Literal]:
    """Check and type the caller's parameter values; raises AutokgError naming the parameter at fault."""
    bound = {}
    for name, value in raw.items():
        parameter = query.parameter(name)
        bound[name] = PARAMETER_TYPES[parameter.type](name, value)
    return bound


WHERE = re.compile(r"\bWHERE\s*\{", re.IGNORECASE)


def with_parameters(query: CompetencyQuery, bound: dict[str, ox.NamedNode | ox.Literal]) -> str:
    """The query text with a VALUES block of the typed parameter values opening its WHERE clause.

    Every declared parameter gets a column; one the caller left out is UNDEF, so `BOUND(?p)` tells.
    Values are serialized by Oxigraph from checked terms, never pasted in as the caller typed them.

    >>> q = CompetencyQuery("q", Path("q.rq"), "t", "q?", "SELECT ?r WHERE { ?r ?p ?org }",
    ...                     (Parameter("org", "iri", "akr:ford", "the organization"),))
    >>> with_parameters(q, {"org": parse_iri("org", "ford")})
    'SELECT ?r WHERE { VALUES (?org) { (<https://w3id.org/autokg/id/ford>) }\\n ?r ?p ?org }'
    """
    if not query.parameters:
        return query.text
    # blank out comments but keep offsets, so a WHERE inside a comment is not taken for the clause
    body = "\n".join(" " * len(line) if line.lstrip().startswith("#") else line for line in query.text.splitlines())
    match = WHERE.search(body)
    if match is None:
        raise AutokgError(f"Query '{query.name}' takes parameters, so its WHERE clause must be written with the WHERE keyword")
    names = " ".join(f"?{p.name}" for p in query.parameters)
    values = " ".join(str(bound[p.name]) if p.name in bound else "UNDEF" for p in query.parameters)
    block = f" VALUES ({names}) {{ ({values}) }}\n"
    return query.text[: match.end()] + block + query.text[match.end():]
