"""Synthetic autokg data that conforms to the shapes, at any size, deterministic for a seed.

It has the shape of the real data: groups with subsidiaries and brands, joint ventures with stakes,
funding rounds with investors, agreements with scopes, figures by year, and evidence for every fact.

    .venv/bin/python bench/gen.py --triples 100000 --seed 1 --out bench/data/synthetic-100k.nq

The output is N-Quads with three named graphs, like dist/autokg.nq: the project's ontology part, the
generated data, and the shortcuts derived from it by autokg's own rules.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pyoxigraph as ox

from autokg.build import build
from autokg.config import project_files
from autokg.shortcuts import RULES, shortcut_query
from autokg.store import GRAPH_NS, current_store

AKG = "https://w3id.org/autokg/ontology#"
AKGV = "https://w3id.org/autokg/vocab/"
AKR = "https://w3id.org/autokg/id/"
XSD = "http://www.w3.org/2001/XMLSchema#"
RDF_TYPE = "<http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
LABEL = "<http://www.w3.org/2000/01/rdf-schema#label>"
SCHEMA = "https://schema.org/"
WORDS = "auto motor tech cloud drive volt data smart road grid park city star north east river mount".split()
SCOPES = ["cloud-computing", "artificial-intelligence", "connectivity", "e-commerce", "autonomous-driving", "batteries", "electric-vehicles"]
METRICS = [("units-sold", "vehicles"), ("revenue-growth", "percent"), ("market-share", "percent")]
CERTAINTIES = ["confirmed", "reported", "reported", "rumoured"]


def iri(namespace: str, local: str) -> str:
    return f"<{namespace}{local}>"


def text(value: str, lang: str | None = "en") -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"@{lang}' if lang else f'"{escaped}"'


def typed(value: object, datatype: str) -> str:
    return f'"{value}"^^<{XSD}{datatype}>'


class Generator:
    """Writes N-Triples lines for synthetic entities and relationships."""

    def __init__(self, seed: int) -> None:
        self.random = random.Random(seed)
        self.lines: list[str] = []
        self.organizations: list[str] = []
        self.sources: list[str] = []
        self.count = 0

    def add(self, s: str, p: str, o: str) -> None:
        self.lines.append(f"{s} {p} {o} .")

    def name(self) -> str:
        return " ".join(self.random.choice(WORDS).capitalize() for _ in range(2))

    def source(self) -> str:
        number = len(self.sources)
        node = iri(AKR, f"source-syn-{number}")
        self.add(node, RDF_TYPE, iri(AKG, "SourceDocument"))
        self.add(node, LABEL, text(f"Synthetic article {number}"))
        self.add(node, iri(AKG, "sourceId"), text(f"syn-{number}", None))
        self.add(node, iri(AKG, "textFile"), text(f"data/sources/syn-{number}.txt", None))
        self.add(node, iri(SCHEMA, "inLanguage"), text("en", None))
        self.add(node, iri(SCHEMA, "datePublished"), typed(f"{self.random.randint(2010, 2024)}-0{self.random.randint(1, 9)}-1{self.random.randint(0, 9)}", "date"))
        self.sources.append(node)
        return node

    def organization(self, kind: str = "Company", industry: str = "carmaker") -> str:
        number = len(self.organizations)
        node = iri(AKR, f"syn-org-{number}")
        self.add(node, RDF_TYPE, iri(AKG, kind))
        self.add(node, LABEL, text(f"{self.name()} {number}"))
        self.add(node, iri(AKG, "industry"), iri(AKGV, industry))
        self.add(node, iri(AKG, "mentionedIn"), self.random.choice(self.sources))
        self.organizations.append(node)
        return node

    def relationship(self, kind: str, slug: str, roles: list[tuple[str, str]], status: str = "active") -> str:
        node = iri(AKR, slug)
        self.add(node, RDF_TYPE, iri(AKG, kind))
        self.add(node, LABEL, text(f"{kind} {slug}"))
        for prop, value in roles:
            self.add(node, iri(AKG, prop), value)
        self.add(node, iri(AKG, "status"), iri(AKGV, status))
        self.add(node, iri(AKG, "rank"), iri(AKGV, "normal-rank"))
        for index in range(self.random.choice((1, 1, 2))):
            evidence = iri(AKR, f"{slug}--ev-{index}")
            self.add(node, iri(AKG, "evidence"), evidence)
            self.add(evidence, RDF_TYPE, iri(AKG, "Evidence"))
            self.add(evidence, iri(AKG, "source"), self.random.choice(self.sources))
            self.add(evidence, iri(AKG, "quote"), text(f"{self.name()} said so about {slug}."))
            certainty = "confirmed" if status in ("signed", "active", "completed") and index == 0 else self.random.choice(CERTAINTIES)
            self.add(evidence, iri(AKG, "certainty"), iri(AKGV, certainty))
        return node

    def amount(self, owner: str, value: int) -> str:
        node = owner[:-1] + "--amount>"
        self.add(node, RDF_TYPE, iri(SCHEMA, "MonetaryAmount"))
        self.add(node, iri(SCHEMA, "value"), typed(f"{value}.0", "decimal"))
        self.add(node, iri(SCHEMA, "currency"), text(self.random.choice(("CNY", "USD", "EUR")), None))
        return node

    def group(self, number: int) -> None:
        """A group with subsidiaries, brands, figures, a joint venture, a funding round and agreements."""
        parent = self.organization()
        slug = parent[len(AKR) + 1:-1]
        for s in range(self.random.randint(1, 4)):
            child = self.organization()
            self.relationship("ParentSubsidiary", f"parent-subsidiary--{slug}--{child[len(AKR) + 1:-1]}",
                              [("parent", parent), ("subsidiary", child)])
        for b in range(self.random.randint(0, 2)):
            brand = iri(AKR, f"syn-brand-{number}-{b}")
            self.add(brand, RDF_TYPE, iri(AKG, "Brand"))
            self.add(brand, LABEL, text(f"{self.name()} brand"))
            self.relationship("BrandOwnership", f"brand-ownership--{slug}--syn-brand-{number}-{b}", [("owner", parent), ("brand", brand)])
        for year in self.random.sample(range(2015, 2024), 3):
            metric, unit = self.random.choice(METRICS)
            node = self.relationship("Figure", f"figure--{slug}--{metric}-{year}",
                                     [("about", parent), ("metric", iri(AKGV, metric)), ("unit", iri(AKGV, unit))], status="completed")
            self.add(node, iri(AKG, "value"), typed(f"{self.random.randint(1, 5000000)}.0", "decimal"))
            self.add(node, iri(AKG, "period"), typed(year, "gYear"))
        if len(self.organizations) > 10:
            other = self.random.choice(self.organizations[:-5])
            other_slug = other[len(AKR) + 1:-1]
            jv = self.organization("JointVenture")
            node = self.relationship("JointVentureFormation", f"jv-formation--{min(slug, other_slug)}--{max(slug, other_slug)}--{number}",
                                     [("partner", parent), ("partner", other), ("resultingOrganization", jv),
                                      ("scope", iri(AKGV, self.random.choice(SCOPES)))], status="announced")
            self.add(node, iri(AKG, "amount"), self.amount(node, self.random.randint(1, 900) * 1000000))
            self.add(node, iri(AKG, "announcedOn"), typed(f"{self.random.randint(2010, 2024)}-0{self.random.randint(1, 9)}-1{self.random.randint(0, 9)}", "date"))
            share = self.random.choice((50, 60, 70))
            for holder, percent in ((parent, share), (other, 100 - share)):
                stake = node[:-1] + f"--stake-{holder[len(AKR) + 1:-1]}>"
                self.add(node, iri(AKG, "stake"), stake)
                self.add(stake, RDF_TYPE, iri(AKG, "StakeShare"))
                self.add(stake, iri(AKG, "stakeHolder"), holder)
                self.add(stake, iri(AKG, "stakePercent"), typed(f"{percent}.0", "decimal"))
            startup = self.organization(industry="autonomous-driving-company")
            round_node = self.relationship("FundingRound", f"funding-round--{startup[len(AKR) + 1:-1]}",
                                           [("fundedOrganization", startup), ("roundType", iri(AKGV, "series-b"))], status="completed")
            for investor in self.random.sample(self.organizations[:-1], 3):
                self.relationship("Investment", f"investment--{investor[len(AKR) + 1:-1]}--{startup[len(AKR) + 1:-1]}",
                                  [("investor", investor), ("fundingRound", round_node)], status="completed")
            for partner in self.random.sample(self.organizations[:-1], 2):
                if partner == parent:
                    continue
                pair = sorted((slug, partner[len(AKR) + 1:-1]))
                self.relationship("Agreement", f"agreement--{pair[0]}--{pair[1]}--{number}",
                                  [("partner", parent), ("partner", partner), ("agreementType", iri(AKGV, "strategic-partnership")),
                                   ("scope", iri(AKGV, self.random.choice(SCOPES)))], status="signed")


def generate(triples: int, seed: int) -> list[str]:
    """N-Triples lines of synthetic data, about `triples` of them."""
    generator = Generator(seed)
    for _ in range(max(5, triples // 2000)):
        generator.source()
    number = 0
    while len(generator.lines) < triples:
        generator.group(number)
        number += 1
    return generator.lines


def write_dataset(lines: list[str], out: Path) -> int:
    """Write ontology, data and derived shortcuts as N-Quads; returns the number of quads."""
    store = ox.Store()
    data_graph = ox.NamedNode(GRAPH_NS + "data")
    store.load("\n".join(lines).encode(), format=ox.RdfFormat.N_TRIPLES, to_graph=data_graph)
    files = project_files()
    if current_store(files) is None:
        build(files)  # the ontology part comes from the release artefacts
    ontology = files.root / "dist" / "autokg-ontology.nt"
    store.load(path=str(ontology), format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(GRAPH_NS + "ontology"))
    shortcuts = ox.NamedNode(GRAPH_NS + "shortcuts")
    for prop in RULES:
        found = store.query(shortcut_query(prop), use_default_graph_as_union=True)
        store.extend([ox.Quad(t.subject, t.predicate, t.object, shortcuts) for t in found])
    out.parent.mkdir(parents=True, exist_ok=True)
    store.dump(str(out), format=ox.RdfFormat.N_QUADS)
    return len(store)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    quads = write_dataset(generate(args.triples, args.seed), args.out)
    print(f"wrote {quads} quads to {args.out}")


if __name__ == "__main__":
    main()
