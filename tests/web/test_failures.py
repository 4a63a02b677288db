"""Every web path answers an error the same way: `<status> <message>` as plain text, with the CORS headers, from
one renderer (web/failures.py), whether Flask answered or a WSGI middleware below it."""

from __future__ import annotations

import io

import pytest

from autokg import errors
from autokg.web.failures import error_outcome

PLAIN = "text/plain; charset=utf-8"


def check_plain_error(response, status: int, words: str) -> None:
    """The answer is the plain-text error `<status> <message>` naming `words`, with the CORS headers."""
    body = response.get_data(as_text=True)
    assert response.status_code == status and response.headers["Content-Type"] == PLAIN, body
    assert body.startswith(f"{status} ") and body.endswith("\n") and body.count("\n") == 1 and words in body, body
    assert response.headers["Access-Control-Allow-Origin"] == "*" and response.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("path,query,status,words", [
    ("/sparql", {"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/> { ?s ?p ?o } }"}, 400, "allow-list"),
    ("/sparql", {"query": "DROP ALL"}, 403, "read-only"),
    ("/sparql", {"query": "SELECT * WHERE { ?s ?p ?o }", "timeout": "nan"}, 400, "Parameter 'timeout'"),
    ("/queries/no-such-query", {}, 404, "Unknown query 'no-such-query'"),
    ("/id/no-such-thing", {"format": "turtle"}, 404, "No resource"),
    ("/id/byd", {"format": "yaml"}, 406, "Not Acceptable"),
    ("/search", {"q": "x" * 5000}, 400, "Parameter 'q'"),
    ("/sparql", {"format": "yaml"}, 400, "Parameter 'format'"),
    ("/no/such/path", {}, 404, "not found on the server"),
    ("/reconcile", {"queries": "[1]"}, 400, "'queries' must be a JSON object"),
    ("/reconcile", {"queries": "{" + ",".join(f'"q{i}": {{"query": "x"}}' for i in range(101)) + "}"}, 413, "At most 100"),
    ("/reconcile/preview", {"id": "no-such-entity"}, 404, "No entity with this id"),
])
def test_flask_paths_answer_errors_in_one_form(client, path, query, status, words):
    check_plain_error(client.get(path, query_string=query), status, words)


def test_the_body_middleware_answers_in_the_same_form(client):
    refused = client.post("/sparql", data=io.BytesIO(b"x" * (2 * 1024 * 1024)), content_type="application/sparql-query",
                          headers={"Content-Length": str(2 * 1024 * 1024), "Expect": "100-continue"})
    check_plain_error(refused, 413, "at most 1048576 bytes")
    assert refused.headers["Connection"] == "close"
    bad = client.post("/sparql", data=b"ASK {}", content_type="application/sparql-query", environ_overrides={"CONTENT_LENGTH": "x1"})
    check_plain_error(bad, 400, "Content-Length 'x1'")


def test_an_error_raised_by_a_view_is_rendered_by_the_app(tmp_path):
    from autokg.web.app import create_app

    data = tmp_path / "tiny.nq"
    data.write_text("<https://example.org/a> <https://example.org/b> <https://example.org/c> .\n")
    app = create_app({"TESTING": True, "DATASET": str(data), "LOG_LEVEL": "warning"})
    client = app.test_client()

    @app.get("/test-only/raises/<kind>")
    def raises(kind: str):
        raise {"backend": errors.BackendError("The backend store is down"), "timeout": TimeoutError("too slow"),
               "setting": errors.SettingError("setting X: no")}[kind]

    check_plain_error(client.get("/test-only/raises/backend"), 502, "The backend store is down")
    check_plain_error(client.get("/test-only/raises/timeout"), 503, "too slow")
    check_plain_error(client.get("/test-only/raises/setting"), 500, "setting X: no")


def test_each_error_class_carries_its_status_and_exit_code():
    statuses = {cls.__name__: (cls.status, cls.exit_code) for cls in (
        errors.AutokgError, errors.BadRequest, errors.RefusedQuery, errors.NotFound, errors.NotAcceptable,
        errors.TooLarge, errors.Busy, errors.UnreadableInputError, errors.SettingError, errors.UnreachableError,
        errors.BackendError)}
    assert statuses == {"AutokgError": (400, 2), "BadRequest": (400, 2), "RefusedQuery": (400, 2), "NotFound": (404, 2),
                        "NotAcceptable": (406, 2), "TooLarge": (413, 2), "Busy": (503, 2), "UnreadableInputError": (400, 2),
                        "SettingError": (500, 2), "UnreachableError": (502, 2), "BackendError": (502, 2)}
    assert errors.RefusedQuery("update", status=403).status == 403 and errors.RefusedQuery("x").status == 400
    busy = error_outcome(errors.Busy("Every thread is taken"))
    assert (busy.status, busy.body, dict(busy.headers)) == (503, b"503 Every thread is taken\n", {"Retry-After": "2"})
