"""Finding resources by name in the one index of names (query/names.py): /search, the near matches of an unknown
/id/, and the candidates /reconcile scores (trigram similarity, with the entities' types, Wikidata items,
industries and mentions beside their names).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from autokg.config import PREFIXES, RESOURCE_NS, WIKIDATA_ENTITY_NS
from autokg.query.entities import PROLOGUE, Listed, labels, select, text
from autokg.query.names import MAX_HITS, NameIndex, normal, trigrams
from autokg.query.running import Queryable, execute
from autokg.stores.embedded import ProcessLocalStore

#: the classes of the entities that reconciliation matches, most general first
TYPES = ("Organization", "Company", "JointVenture", "GovernmentBody", "Brand", "Person", "Product", "Event", "Place", "Ranking")
#: a candidate whose normal form equals the query's scores this
EXACT = 100.0
#: candidates scoring less are not answered
MIN_SCORE = 40


def name_index(store: Queryable) -> NameIndex:
    """The index of every label and alias of the dataset's resources, read in one query.

    An on-disk store's handle is dropped after: the index is built before the workers fork, and no handle may cross.
    """
    label = PREFIXES["rdfs"] + "label"
    names = sorted(
        (row["x"].value, row["name"].value, row["p"].value == label and row["name"].language == "en")
        for row in execute(store, PROLOGUE + """
SELECT ?x ?p ?name WHERE {
  VALUES ?p { rdfs:label skos:altLabel } ?x ?p ?name . FILTER (STRSTARTS(STR(?x), STR(akr:)) && isLiteral(?name))
}""")
    )
    if isinstance(store, ProcessLocalStore):
        store.close()
    return NameIndex(names)


def search(store: Queryable, index: NameIndex, words: str, limit: int = MAX_HITS) -> tuple[list[Listed], bool]:
    """Resources whose label or alias, in any language, has words that start with `words`; best matches first.

    Also whether more resources match than the `limit` returned.
    """
    hits = index.search(words, limit + 1)
    named = labels(store, [h.iri for h in hits[:limit]])
    return [Listed(h.iri, named[h.iri], h.name if h.name != named[h.iri] else "") for h in hits[:limit]], len(hits) > limit


def near_matches(store: Queryable, index: NameIndex, slug: str, limit: int = 5) -> list[Listed]:
    """Resources whose slug or English label is close to `slug`, for a helpful 404 page."""
    picked = index.near(slug, limit)
    named = labels(store, picked)
    return [Listed(i, named[i]) for i in picked]


@dataclass
class Entity:
    """A resource of one of TYPES, with what reconciliation shows and weighs beside its names."""

    id: str  # the slug
    name: str
    names: dict[str, str]  # normal form -> as written
    types: set[str] = field(default_factory=set)
    wikidata: set[str] = field(default_factory=set)
    industries: set[str] = field(default_factory=set)
    mentions: int = 0
    grams: dict[str, frozenset[str]] = field(default_factory=dict)  # normal form -> its trigrams


def entities(store: Queryable, index: NameIndex) -> dict[str, Entity]:
    """Every named resource of one of TYPES by slug, its names taken from `index`."""
    found: dict[str, Entity] = {}
    for row in select(store, f"""
SELECT ?e ?type ?wd ?industry (COUNT(DISTINCT ?source) AS ?mentions) WHERE {{
  ?e a ?class . ?class rdfs:subClassOf* ?type .
  FILTER (?type IN ({", ".join("akg:" + t for t in TYPES)}) && STRSTARTS(STR(?e), STR(akr:)))
  OPTIONAL {{ ?e skos:exactMatch ?wd FILTER (STRSTARTS(STR(?wd), "{WIKIDATA_ENTITY_NS}")) }}
  OPTIONAL {{ ?e akg:industry/skos:prefLabel ?industry FILTER (lang(?industry) = "en") }}
  OPTIONAL {{ ?e akg:mentionedIn ?source }}
}} GROUP BY ?e ?type ?wd ?industry"""):
        iri = text(row, "e")
        slug = iri[len(RESOURCE_NS):]
        entity = found.get(slug)
        if entity is None:
            names = index.names_of(iri)
            if not names:
                continue
            entity = found[slug] = Entity(slug, index.english_label(iri) or next(iter(names.values())), names,
                                          grams={key: trigrams(key) for key in names})
        entity.types.add(text(row, "type")[len(PREFIXES["akg"]):])
        if text(row, "wd"):
            entity.wikidata.add(text(row, "wd")[len(WIKIDATA_ENTITY_NS):])
        if text(row, "industry"):
            entity.industries.add(text(row, "industry"))
        entity.mentions = max(entity.mentions, int(row["mentions"].value) if "mentions" in row else 0)
    return found


def score(wanted: str, grams: frozenset[str], entity: Entity) -> float:
    """100 for a name equal to the normal form `wanted`; else 99 times the best trigram similarity (Dice).

    The query's trigrams `grams` are computed once per query, so a query costs time linear in its length for
    each name: a batch of 100 queries of 300 characters answers in milliseconds, where an edit-distance ratio
    took seconds.

    >>> saic = Entity("saic-motor", "SAIC Motor", {"saic motor": "SAIC Motor"}, grams={"saic motor": trigrams("saic motor")})
    >>> score("saic motor", trigrams("saic motor"), saic), score("saic motors", trigrams("saic motors"), saic)
    (100.0, 86.1)
    """
    if not wanted:
        return 0.0
    if wanted in entity.names:
        return EXACT
    best = 0.0
    for name, name_grams in entity.grams.items():
        similarity = 2 * len(grams & name_grams) / (len(grams) + len(name_grams))
        if name.startswith(wanted) or wanted.startswith(name):
            similarity = max(similarity, 0.8)
        best = max(best, similarity * 99)
    return round(best, 1)


def candidates(found: dict[str, Entity], words: str, types: list[str] | None = None,
               wikidata: set[str] | None = None) -> list[tuple[float, Entity]]:
    """(score, entity) for the entities of `types` that score at least MIN_SCORE against `words`, best first
    (then the most mentioned); an entity linked to one of the `wikidata` items scores EXACT."""
    wanted = normal(words)
    grams = trigrams(wanted)
    scored = []
    for entity in found.values():
        if types and not entity.types & set(types):
            continue
        value = EXACT if wikidata and wikidata & entity.wikidata else score(wanted, grams, entity)
        if value >= MIN_SCORE:
            scored.append((value, entity))
    scored.sort(key=lambda pair: (-pair[0], -pair[1].mentions, pair[1].id))
    return scored
