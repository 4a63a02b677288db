"""The browsing pages under hostile requests: work bounded whatever the data's size, links and headers that no
result or Host header can turn against the reader."""

from __future__ import annotations

import sys

import pytest

from autokg import entities
from autokg.config import project_files
from autokg.names import MAX_HITS, MAX_QUERY, NameIndex
from test_pages import Elements, page

sys.path.insert(0, str(project_files().root / "bench"))
import gen  # noqa: E402


@pytest.fixture(scope="module")
def synthetic_app(tmp_path_factory):
    """The app on 20,000 synthetic triples: about 2,000 names, many of them sharing their words."""
    from autokg.app import create_app

    data = tmp_path_factory.mktemp("synthetic") / "data.nq"
    gen.write_dataset(gen.generate(20_000, seed=3), data)
    return create_app({"TESTING": True, "DATASET": str(data), "LOG_LEVEL": "warning"})


@pytest.fixture
def rows_read(monkeypatch):
    """The number of solutions the pages' own queries read from the store, counted as they are read."""
    read = [0]
    original = entities.execute

    def counting(store, query):
        results = original(store, query)
        if not hasattr(results, "variables"):
            return results

        class Counted:
            variables = results.variables

            def __iter__(self):
                for solution in results:
                    read[0] += 1
                    yield solution

        return Counted()

    monkeypatch.setattr(entities, "execute", counting)
    return read


def test_the_synthetic_data_has_many_names(synthetic_app):
    assert len(synthetic_app.extensions["autokg.names"]) > 20 * MAX_HITS


@pytest.mark.parametrize("words", ["a", "motor", "syn", "agreement", "qqqzzz", "智己"])
def test_a_search_reads_a_bounded_number_of_rows(synthetic_app, rows_read, words):
    """Without the index, a search read every label of the dataset (about 2,000 rows here)."""
    status, html = page(synthetic_app.test_client(), "/search?q=" + words)
    assert status == 200
    assert rows_read[0] <= 2 * MAX_HITS


@pytest.mark.parametrize("slug", ["syn-org-16710", "mount-star-1x", "no-such-thing-at-all", "x" * 2000])
def test_near_matches_read_a_bounded_number_of_rows(synthetic_app, rows_read, slug):
    status, html = page(synthetic_app.test_client(), "/id/" + slug)
    assert status == 404
    assert rows_read[0] <= 2 * 5 + 1  # the ASK that the resource exists, and the labels of 5 suggestions


def test_a_frequent_word_lists_the_first_hits_and_says_there_are_more(synthetic_app):
    status, html = page(synthetic_app.test_client(), "/search?q=agreement")
    hits = [link for link in Elements(html).links() if link.startswith("/id/")]
    assert status == 200 and len(hits) == MAX_HITS
    assert f"More than {MAX_HITS} names match" in html


def test_a_search_longer_than_the_bound_is_refused_naming_the_parameter(client):
    assert page(client, "/search?q=" + "a" * MAX_QUERY)[0] == 200
    response = client.get("/search?q=" + "a" * (MAX_QUERY + 1))
    assert response.status_code == 400 and response.mimetype == "text/plain"
    assert b"'q'" in response.data and str(MAX_QUERY).encode() in response.data


@pytest.mark.parametrize("words", ["汽车", "Motors", "motors im", "IM-Motors", "france presse"])
def test_words_match_at_the_start_of_any_word_and_chinese_at_any_character(client, words):
    html = page(client, "/search?q=" + words)[1]
    links = Elements(html).links()
    expected = "/id/afp" if "presse" in words else "/id/im-motors"
    assert (expected in links) is (words != "motors im")


def test_the_index_ranks_whole_names_then_starts_then_later_words():
    index = NameIndex([("r:b", "Motor B", True), ("r:a", "Big Motor", True), ("r:c", "motor", True), ("r:d", "Motorway", True)])
    assert [(h.iri, h.score) for h in index.search("motor")] == [("r:c", 0), ("r:b", 1), ("r:d", 1), ("r:a", 2)]
    assert [h.iri for h in index.search("motor", limit=2)] == ["r:c", "r:b"]
    assert index.search("   ") == [] and index.search("otor") == []


def test_a_resource_is_listed_once_under_its_best_name():
    index = NameIndex([("r:a", "Alpha Motor", True), ("r:a", "Motor", False), ("r:a", "motor alpha", False)])
    assert [(h.iri, h.name, h.score) for h in index.search("motor")] == [("r:a", "Motor", 0)]


def test_near_matches_find_a_typo_anywhere_in_the_slug():
    index = NameIndex([(f"r:/org-{n}", f"Mount Star {n}", True) for n in range(5000)] + [("r:/im-motors", "IM Motors", True)])
    assert index.near("im-motorz")[0] == "r:/im-motors"
    assert index.near("mount-star-4321x")[0] == "r:/org-4321"
    assert index.near("org-43210")[0] == "r:/org-4321"
    assert index.near("x" * (MAX_QUERY + 1)) == []
