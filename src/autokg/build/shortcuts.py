"""The shortcut layer: direct triples derived from relationship nodes, never edited by hand."""

from __future__ import annotations

import pyoxigraph as ox
from rdflib import Graph

from autokg.config import ONTOLOGY_NS, VOCAB_NS

#: a relationship backs a shortcut when it is not deprecated, not ended, not a mere plan or talk,
CURRENT = """
    FILTER NOT EXISTS { ?rel akg:rank akgv:deprecated-rank }
    FILTER NOT EXISTS { ?rel akg:endDate ?ended }
    FILTER NOT EXISTS { ?rel akg:status ?status
        FILTER (?status IN (akgv:terminated, akgv:rumoured-talks, akgv:in-talks, akgv:planned, akgv:target)) }
"""
#: and some evidence for it is confirmed or reported (never a rumour alone)
CONFIRMED = "?rel akg:evidence/akg:certainty ?certainty FILTER (?certainty IN (akgv:confirmed, akgv:reported))"
BACKED = f"{CURRENT}    FILTER EXISTS {{ {CONFIRMED} }}\n"

PREFIXES = f"""PREFIX akg: <{ONTOLOGY_NS}>
PREFIX akgv: <{VOCAB_NS}>
"""

#: shortcut property -> the pattern of relationships that back `?a <property> ?b`
RULES = {
    # a unit (a business unit, an academy) is part of its organization too, but only a subsidiary exports as P749
    "parentOrganization": """{ ?rel a akg:ParentSubsidiary ; akg:subsidiary ?a ; akg:parent ?b . }
        UNION { ?rel a akg:Affiliation ; akg:affiliationType akgv:organizational-unit ; akg:affiliate ?a ; akg:affiliatedWith ?b . }""",
    "ownedBy": """{ ?rel a akg:EquityStake ; akg:owned ?a ; akg:owner ?b . }
        UNION { ?rel a akg:JointVentureFormation ; akg:resultingOrganization ?a ; akg:stake/akg:stakeHolder ?b . }""",
    "investedIn": """?rel a akg:Investment ; akg:investor ?a .
        { ?rel akg:investee ?b } UNION { ?rel akg:fundingRound/akg:fundedOrganization ?b }""",
    "partnerOf": """?rel akg:partner ?a, ?b . FILTER (?a != ?b)
        { ?rel a akg:Agreement } UNION { ?rel a akg:JointVentureFormation }""",
    "hasBrand": "?rel a akg:BrandOwnership ; akg:owner ?a ; akg:brand ?b .",
    "rivalOf": "?rel a akg:Rivalry ; akg:rival ?a, ?b . FILTER (?a != ?b)",
}


def shortcut_query(prop: str) -> str:
    """The CONSTRUCT query that derives one shortcut property.

    >>> "akg:hasBrand ?b" in shortcut_query("hasBrand")
    True
    """
    return PREFIXES + f"CONSTRUCT {{ ?a akg:{prop} ?b }} WHERE {{ {RULES[prop]} {BACKED} }}"


def unbacked_select() -> str:
    """The SHACL-SPARQL select of akgsh:UnbackedShortcutShape: shortcuts from $this that no relationship backs.

    shapes/autokg.ttl holds this text; a test checks that the two agree.
    """
    # OPTIONAL … !BOUND and a join, not FILTER NOT EXISTS { … FILTER EXISTS { path } }: Oxigraph evaluated that
    # without the bound ?a and ?b, 9.5 s on 60k triples for no rows, against 0.08 s (docs/validation.md)
    branches = "\n        UNION ".join(
        f"{{ $this akg:{prop} ?b . BIND ($this AS ?a) BIND (akg:{prop} AS ?path) "
        f"OPTIONAL {{ {' '.join(RULES[prop].split())} {' '.join(CURRENT.split())} {CONFIRMED} }} FILTER (!BOUND(?rel)) }}"
        for prop in RULES
    )
    return f"SELECT $this ?path ?b WHERE {{\n        {branches}\n    }}"


def derive_shortcuts(graph: Graph) -> Graph:
    """Run every shortcut rule over `graph` (data plus ontology and vocabularies) on Oxigraph."""
    store = ox.Store()
    store.load(graph.serialize(format="nt"), format=ox.RdfFormat.N_TRIPLES)
    result = Graph()
    for prop in RULES:
        data = ox.serialize(store.query(shortcut_query(prop)), format=ox.RdfFormat.N_TRIPLES)
        result.parse(data=data.decode("utf-8"), format="nt")
    return result
