"""Protocol parameters that are numbers only in name: each gets 400 naming the parameter, never a 500."""

from __future__ import annotations

import pytest

JSON = {"Accept": "application/sparql-results+json"}


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "infinity", "1e400", "-1", "0", "-0.0", "soon"])
def test_a_timeout_that_is_not_a_positive_finite_number_is_400(client, value):
    response = client.get("/sparql", query_string={"query": "ASK {}", "timeout": value}, headers=JSON)
    assert response.status_code == 400 and response.mimetype == "text/plain"
    assert b"'timeout'" in response.data


@pytest.mark.parametrize("value", ["nan", "inf"])
def test_a_canned_query_refuses_the_same_timeouts(client, value):
    response = client.get("/queries/joint-ventures", query_string={"timeout": value}, headers=JSON)
    assert response.status_code == 400 and b"'timeout'" in response.data


@pytest.mark.parametrize("value", ["1e300", "0.5", "3"])
def test_a_long_or_short_finite_timeout_is_answered(client, value):
    response = client.get("/sparql", query_string={"query": "ASK {}", "timeout": value}, headers=JSON)
    assert response.status_code == 200 and response.json["boolean"] is True
