"""Synthetic autokg data that conforms to the shapes, at any size, deterministic for a seed.

It has the shape of the real data: groups with subsidiaries and brands, joint ventures with stakes,
funding rounds with investors, agreements with scopes, figures by year, and evidence for every fact.

    .venv/bin/python bench/gen.py --triples 100000 --seed 1 --out bench/data/synthetic-100k.nq
    .venv/bin/python bench/gen.py --triples 5000000 --seed 1 --out bench/data/synthetic-5m.nq   # about a minute

The output is N-Quads with three named graphs, like dist/autokg.nq: the project's ontology part, the
generated data, and the shortcuts derived from it by autokg's own rules.

It scales by streaming: groups are generated and written batch by batch (about 5,000 triples each),
and the shortcut rules run on each batch in a small store of its own, so memory holds one batch plus
the list of organisation IRIs, not the dataset. The rules can run batch by batch because every rule and
its "backed" condition (autokg.shortcuts) read only one relationship node, its evidence, its stakes and
its funding round, and the generator writes all of them in the same group, so always in the same batch.

Why data of any size conforms although the tests validate only samples (pyshacl cannot validate
millions of triples in reasonable time): the data is the same few templates repeated with other
numbers. Sources come first, then groups, each written by `Generator.group` from the same template:
every node it makes is new (its IRI carries a number never used before), every reference points at a
source or an organisation already written whole, and every shape constraint (shapes/autokg.ttl) is local
to a node and its direct neighbours (counts, datatypes, classes of values, stakes that add up to 100,
stake holders that are partners). Nothing depends on the size but how many groups there are and how many
sources they can cite, so a group at position one million satisfies the shapes exactly as the groups of
the 20,000-triple sample that tests/project/test_bench_gen.py validates.
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Iterable, Iterator
from pathlib import Path

import pyoxigraph as ox

from autokg.build.artefacts import build
from autokg.build.shortcuts import RULES, shortcut_query
from autokg.config import project_files
from autokg.stores.embedded import GRAPH_NS, current_store

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
        self.lines: list[str] = []  # the batch being written
        self.organizations: list[str] = []
        self.sources: list[str] = []

    def add(self, s: str, p: str, o: str) -> None:
        self.lines.append(f"{s} {p} {o} .")

    def earlier(self, leave_out: int) -> str:
        """An organisation other than the last `leave_out` ones (the draw of random.choice on the slice, without copying it)."""
        return self.organizations[self.random.randrange(len(self.organizations) - leave_out)]

    def earlier_sample(self, count: int) -> list[str]:
        """`count` different organisations other than the last one (the draws of random.sample on the slice)."""
        return [self.organizations[i] for i in self.random.sample(range(len(self.organizations) - 1), count)]

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
        source = self.random.choice(self.sources)
        self.add(node, iri(AKG, "mentionedIn"), source)
        # an industry carries the passage that states it (akgsh:IndustryEvidenceShape), here from the same source
        evidence = iri(AKR, f"syn-org-{number}--industry-{industry}--ev-0")
        self.add(node, iri(AKG, "industryEvidence"), evidence)
        self.add(evidence, RDF_TYPE, iri(AKG, "Evidence"))
        self.add(evidence, iri(AKG, "source"), source)
        self.add(evidence, iri(AKG, "quote"), text(f"{self.name()} is a {industry.replace('-', ' ')}."))
        self.add(evidence, iri(AKG, "certainty"), iri(AKGV, "reported"))
        self.add(evidence, iri(AKG, "statesIndustry"), iri(AKGV, industry))
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
            other = self.earlier(5)
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
            for investor in self.earlier_sample(3):
                self.relationship("Investment", f"investment--{investor[len(AKR) + 1:-1]}--{startup[len(AKR) + 1:-1]}",
                                  [("investor", investor), ("fundingRound", round_node)], status="completed")
            for partner in self.earlier_sample(2):
                if partner == parent:
                    continue
                pair = sorted((slug, partner[len(AKR) + 1:-1]))
                self.relationship("Agreement", f"agreement--{pair[0]}--{pair[1]}--{number}",
                                  [("partner", parent), ("partner", partner), ("agreementType", iri(AKGV, "strategic-partnership")),
                                   ("scope", iri(AKGV, self.random.choice(SCOPES)))], status="signed")


BATCH = 5_000


def batches(triples: int, seed: int, size: int = BATCH) -> Iterator[list[str]]:
    """N-Triples lines of synthetic data, about `triples` of them, in batches of about `size` that end with a group (the rules slow down faster than linearly with the size of the store they run on, so batches are small)."""
    generator = Generator(seed)
    for _ in range(max(5, triples // 2000)):
        generator.source()
    written, number = 0, 0
    while written + len(generator.lines) < triples:
        generator.group(number)
        number += 1
        if len(generator.lines) >= size:
            written += len(generator.lines)
            yield generator.lines
            generator.lines = []
    if generator.lines:
        yield generator.lines


def generate(triples: int, seed: int) -> list[str]:
    """N-Triples lines of synthetic data, about `triples` of them."""
    return [line for batch in batches(triples, seed) for line in batch]


def ontology_part() -> Path:
    """The ontology part as N-Triples, from the release artefacts (built when a fresh clone has none)."""
    files = project_files()
    if current_store(files) is None:
        build(files)
    return files.root / "dist" / "autokg-ontology.nt"


def write_dataset(data: Iterable[list[str]] | list[str], out: Path) -> int:
    """Write ontology, data and derived shortcuts as N-Quads, streaming; returns the number of quads.

    `data` is a list of N-Triples lines, or an iterable of batches of them as `batches` yields them
    (a relationship and everything its shortcut rules read in the same batch).
    """
    if isinstance(data, list) and (not data or isinstance(data[0], str)):
        data = [data]
    graph = {part: f"<{GRAPH_NS}{part}>" for part in ("ontology", "data", "shortcuts")}
    out.parent.mkdir(parents=True, exist_ok=True)
    count, derived = 0, set()
    with out.open("w", encoding="utf-8") as sink:
        for q in ox.parse(path=str(ontology_part()), format=ox.RdfFormat.N_TRIPLES):
            sink.write(f"{q.subject} {q.predicate} {q.object} {graph['ontology']} .\n")
            count += 1
        for batch in data:
            sink.writelines(f"{line[:-2]} {graph['data']} .\n" for line in batch)
            count += len(batch)
            store = ox.Store()
            store.bulk_load("\n".join(batch).encode(), format=ox.RdfFormat.N_TRIPLES)
            found = sorted({f"{t.subject} {t.predicate} {t.object} {graph['shortcuts']} .\n"
                            for prop in RULES for t in store.query(shortcut_query(prop))})
            fresh = [line for line in found if hash(line) not in derived]
            derived.update(hash(line) for line in fresh)
            sink.writelines(fresh)
            count += len(fresh)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--triples", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    quads = write_dataset(batches(args.triples, args.seed), args.out)
    print(f"wrote {quads} quads to {args.out}")


if __name__ == "__main__":
    main()
