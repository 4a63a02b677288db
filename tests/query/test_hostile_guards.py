"""The checks a query passes before the engine, tried as an attacker: linear time, no memory kept, no way around.

Timing is judged by ratios (the same input 8 times longer must cost about 8 times more, never 64), each the best of
a few runs, so that a loaded machine slows both sides alike.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest

from autokg.query.guards import MAX_NESTING, RefusedQuery, check_query, is_single_pattern
from autokg.rdf.sparql import query_form, tokens

PATHOLOGICAL = {
    # 32 bytes of these kept a worker busy for 22 s; each further pair multiplied the time by 8
    "comment-runs": lambda n: "# " * n,
    "comments-after-a-pattern": lambda n: "SELECT * { ?s ?p ?o } " + "# " * n,
    "comments-in-the-prologue": lambda n: "PREFIX a: <http://x/> " + "# " * n + "SELECT * { ?s ?p ?o }",
    # the old tokenizer rescanned a name at every position, looking for a colon
    "hyphenated-names": lambda n: "SELECT * { ?s ?p ?o FILTER(?o = " + "a-" * n + "a) }",
    "unterminated-strings": lambda n: "SELECT * { ?s ?p ?o } '" * n,
    "unterminated-long-strings": lambda n: "SELECT ''' " * n,
    "unterminated-iris": lambda n: "SELECT * { ?s ?p <a" * n,
    "watched-words": lambda n: "SELECT * { ?s ?p ?o } SERVICE" * n,
}


def cost(text: str) -> float:
    """The best of three runs of every pre-engine check on a text, in seconds."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for check in (check_query, is_single_pattern, query_form):
            try:
                check(text)
            except RefusedQuery:
                pass
        best = min(best, time.perf_counter() - started)
    return best


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_every_check_is_linear_in_the_query(name):
    make = PATHOLOGICAL[name]
    small, large = cost(make(4_000)), cost(make(32_000))
    # linear: 8x; quadratic: 64x. Below a millisecond the clock's noise dominates, so it gets a floor
    assert large / max(small, 0.001) < 24, f"{name}: {small * 1000:.2f} ms -> {large * 1000:.2f} ms for 8x the text"


@pytest.mark.parametrize("name", PATHOLOGICAL)
def test_a_body_at_the_cap_is_checked_in_seconds_not_minutes(name):
    # 0.3-0.5 s on a quiet machine for the worst (many short tokens); the bound leaves room for a loaded one
    text = PATHOLOGICAL[name](1)
    text = (text * (1024 * 1024 // len(text)))[:1024 * 1024]
    assert cost(text) < 5.0


def test_checking_distinct_large_queries_keeps_no_memory():
    # the tokenizer's cache kept about 48 MB per distinct 700 KB query; eight pushed a worker past its ceiling
    queries = [f"SELECT * {{ ?s ?p ?o FILTER(?o != 'x{n}') }} " + "SERVICE x " * 70_000 for n in range(8)]
    tracemalloc.start()
    try:
        for text in queries:
            with pytest.raises(RefusedQuery):
                check_query(text)
            query_form(text)
            is_single_pattern(text)
        kept, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 1024 * 1024


@pytest.mark.parametrize("text", [
    "PREFIX e: <http://127.0.0.1:9/> SELECT * { SERVICEe:b { ?s ?p ?o } }",  # the engine reads SERVICE e:b
    "PREFIX e: <http://127.0.0.1:9/> SELECT * { SERVICE SILENTe:b { ?s ?p ?o } }",
    "SELECT * { SERVICE<http://127.0.0.1:9/c>{ ?s ?p ?o } }",
    "SELECT * { service silent <http://127.0.0.1:9/c> { ?s ?p ?o } }",
    "SELECT * { ?s ?p ?o OPTIONAL { SERVICE#\n<http://127.0.0.1:9/c> { ?s ?p ?o } } }",
    "SELECT * { SERVICE ?endpoint { ?s ?p ?o } }",
    # an escaped quote in a local name, read as the start of a string, hid the SERVICE behind it
    "PREFIX ex: <http://x/> SELECT * { ?s ex:a\\' ?o . SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } ?s ex:b\\' ?o }",
    "SELECT * { SERVICE }",
])
def test_no_spelling_of_service_reaches_an_endpoint_off_the_list(text):
    with pytest.raises(RefusedQuery) as refused:
        check_query(text, ("https://query.wikidata.org/sparql",))
    assert refused.value.status == 400


def test_an_allowed_service_passes():
    check_query("SELECT * { SERVICE <https://query.wikidata.org/sparql> { ?s ?p ?o } }", ("https://query.wikidata.org/sparql",))
    check_query("PREFIX w: <https://query.wikidata.org/> SELECT * { SERVICE w:sparql { ?s ?p ?o } }",
                ("https://query.wikidata.org/sparql",))


@pytest.mark.parametrize("opener, closer", [("(", ")"), ("{", "}"), ("[", "]")])
def test_nesting_past_the_limit_is_refused_with_where(opener, closer):
    def nested(depth: int) -> str:
        return "SELECT * WHERE { ?s ?p ?o FILTER(" + opener * depth + "1" + closer * depth + ") }"

    check_query(nested(MAX_NESTING - 2))  # the FILTER and the group add two levels
    with pytest.raises(RefusedQuery, match=f"{MAX_NESTING + 1} levels deep at character") as refused:
        check_query(nested(5000))
    assert refused.value.status == 400


def test_brackets_inside_strings_iris_and_comments_do_not_nest():
    check_query("SELECT * { ?s ?p '" + "(" * 5000 + "' } # " + "{" * 5000)


def test_local_names_keep_their_escapes():
    assert list(tokens("ex:a\\'b ex:c\\(d\\) :e\\#f")) == [("pname", "ex:a\\'b"), ("pname", "ex:c\\(d\\)"), ("pname", ":e\\#f")]


def test_tokens_tell_names_from_prefixed_names():
    assert list(tokens("a-b a:b :c 12 ?x")) == [("word", "a-b"), ("pname", "a:b"), ("pname", ":c"), ("number", "12"), ("var", "?x")]
