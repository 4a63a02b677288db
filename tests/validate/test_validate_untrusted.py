"""`autokg validate` on files nobody vetted: it reads the named files only, and every unreadable one exits 2
naming the file and the line."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from support.listeners import Canary

AKG = "https://w3id.org/autokg/ontology#"
AKR = "https://w3id.org/autokg/id/"
PREFIXES = f"@prefix akg: <{AKG}> .\n@prefix akr: <{AKR}> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n"
ACME = 'akr:acme a akg:Company ; rdfs:label "Acme"@en .\n'


@pytest.fixture
def canary():
    listener = Canary()
    yield listener
    listener.close()


def write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("suffix", [".jsonld", ".json"])
@pytest.mark.parametrize("key", ["@context", "@import"])
def test_remote_jsonld_context_is_refused_not_fetched(runner, tmp_path, canary, suffix, key):
    url = f"http://127.0.0.1:{canary.port}/context.jsonld"
    context = f'"{url}"' if key == "@context" else f'{{"@import": "{url}"}}'
    path = write(tmp_path / f"data{suffix}", f'{{"@context": {context}, "@id": "{AKR}acme", "name": "Acme"}}')
    started = time.monotonic()
    run = runner("validate", str(path))
    assert run.status == 2, run.err
    assert time.monotonic() - started < 10
    assert "never fetched" in run.err and str(path) in run.err
    assert canary.hits == 0


def test_file_context_is_neither_read_nor_named(runner, tmp_path):
    secret = write(tmp_path / "secret.jsonld", '{"@context": {"name": "http://secret.example/TOKEN-1234"}}')
    path = write(tmp_path / "data.jsonld", f'{{"@context": "{secret.as_uri()}", "@id": "{AKR}acme", "name": "Acme"}}')
    run = runner("validate", str(path))
    assert run.status == 2
    assert "TOKEN-1234" not in run.out + run.err and str(secret) not in run.err
    # a missing file is refused in the same words, so an error tells nothing about which paths exist
    absent = write(tmp_path / "other.jsonld", f'{{"@context": "{(tmp_path / "absent.jsonld").as_uri()}", "@id": "{AKR}acme"}}')
    other = runner("validate", str(absent))
    assert other.err.replace(str(absent), "X") == run.err.replace(str(path), "X")


def test_inline_jsonld_context_is_read(runner, tmp_path):
    path = write(tmp_path / "data.jsonld", '{"@context": {"akg": "%s", "rdfs": "http://www.w3.org/2000/01/rdf-schema#"},'
                 ' "@id": "%sacme", "@type": "akg:Company", "rdfs:label": {"@value": "Acme", "@language": "en"}}' % (AKG, AKR))
    run = runner("validate", str(path))
    assert run.status == 0, run.err


def test_symlinked_input_is_refused_without_echoing_its_target(runner, tmp_path):
    secret = write(tmp_path / "token.txt", "ghp_SECRET-TOKEN-VALUE\n")
    link = tmp_path / "x.nt"
    link.symlink_to(secret)
    run = runner("validate", str(link))
    assert run.status == 2
    assert "symbolic link" in run.err and "SECRET" not in run.err + run.out


def test_symlink_in_project_glob_is_refused(runner, tmp_path, files):
    root = tmp_path / "project"
    for part in ("ontology", "shapes", "data/articles"):
        (root / part).mkdir(parents=True)
    for path in files.ontology + files.vocabularies + files.alignment + files.shapes + files.data:
        target = root / path.relative_to(files.root)
        target.write_bytes(path.read_bytes())
    (root / "data" / "articles" / "999.ttl").symlink_to(tmp_path / "elsewhere.ttl")
    write(tmp_path / "elsewhere.ttl", PREFIXES + ACME)
    run = runner("--root", str(root), "validate")
    assert run.status == 2 and "999.ttl" in run.err and "symbolic link" in run.err


def test_fifo_is_refused_without_hanging(runner, tmp_path):
    fifo = tmp_path / "pipe.ttl"
    os.mkfifo(fifo)
    run = runner("validate", str(fifo))
    assert run.status == 2 and "Not a regular file" in run.err


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [
<!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
%s
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
<rdf:Description rdf:about="https://w3id.org/autokg/id/x"><rdfs:label>&z;</rdfs:label></rdf:Description>
</rdf:RDF>
""" % "\n".join(
    f'<!ENTITY {b} "{("&" + a + ";") * 10}">' for a, b in zip("abcdefghijklmnopqrstuvwxy", "bcdefghijklmnopqrstuvwxyz")
)


def test_billion_laughs_is_refused_fast(runner, tmp_path):
    path = write(tmp_path / "laughs.rdf", BILLION_LAUGHS)
    started = time.process_time()
    run = runner("validate", str(path))
    assert run.status == 2
    assert time.process_time() - started < 5
    assert f"{path}:3:" in run.err and "entity" in run.err


def test_external_entity_is_refused(runner, tmp_path):
    secret = write(tmp_path / "secret.txt", "SECRET-VALUE")
    path = write(tmp_path / "xxe.rdf", f"""<?xml version="1.0"?>
<!DOCTYPE rdf:RDF [ <!ENTITY x SYSTEM "{secret.as_uri()}"> ]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">
<rdf:Description rdf:about="https://w3id.org/autokg/id/x"><rdfs:label>&x;</rdfs:label></rdf:Description>
</rdf:RDF>
""")
    run = runner("validate", str(path))
    assert run.status == 2 and "SECRET" not in run.out + run.err


@pytest.mark.parametrize(
    "name, content, line, words",
    [
        ("space.ttl", PREFIXES + "\n<https://w3id.org/autokg/id/a b> a akg:Company .\n", 5, "holds a space"),
        ("newline.ttl", PREFIXES + "<https://w3id.org/autokg/id/a\\u000ab> a akg:Company .\n", 4, "\\u000A"),
        ("newline.nt", f"<{AKR}a> <{AKG}x> <{AKR}b> .\n<{AKR}a\\u000ab> <{AKG}x> <{AKR}b> .\n", 2, "\\u000A"),
        ("space.nt", f"<{AKR}a b> <{AKG}x> <{AKR}b> .\n", 1, "IRI"),
        ("bom.ttl", b"\xef\xbb\xbf" + (PREFIXES + ACME).encode(), 1, "byte-order mark"),
        ("latin1.ttl", (PREFIXES + 'akr:a rdfs:label "caf\xe9" .\n').encode("latin-1"), 4, "Not UTF-8"),
        ("deep.ttl", PREFIXES + "\n\nakr:a akg:x " + "[ akg:x " * 150 + "akr:b" + " ]" * 150 + " .\n", 6, "Nested deeper"),
        ("deep.rdf", '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:a="http://x/">\n'
         '<rdf:Description rdf:about="http://x/s">\n' + "<a:p><rdf:Description>\n" * 150
         + "</rdf:Description></a:p>\n" * 150 + "</rdf:Description></rdf:RDF>\n", 102, "Nested deeper"),
        ("deep.jsonld", '{"@id": "http://x/s",\n "http://x/p": ' + '{"http://x/p": ' * 70000 + '"o"' + "}" * 70001 + "\n", 2, "Bad syntax"),
        ("broken.nt", f"<{AKR}a> <{AKG}x> <{AKR}b> .\n<{AKR}a> <{AKG}x> oops .\n", 2, "Bad syntax"),
    ],
)
def test_unreadable_input_exits_2_naming_file_and_line(runner, tmp_path, name, content, line, words):
    path = write(tmp_path / name, content)
    run = runner("validate", str(path))
    assert run.status == 2, run.out + run.err
    assert run.err.startswith(f"autokg: error: {path}:{line}: "), run.err
    assert words in run.err
    assert "Traceback" not in run.err


@pytest.mark.parametrize("name, content", [("empty.ttl", ""), ("comment.ttl", "# nothing here\n"), ("prefix.ttl", PREFIXES),
                                           ("empty.nt", "\n"), ("empty.jsonld", "{}")])
def test_file_without_triples_exits_2(runner, tmp_path, name, content):
    path = write(tmp_path / name, content)
    run = runner("validate", str(path))
    assert run.status == 2 and str(path) in run.err
    assert "Empty file" in run.err or "No triples" in run.err


def test_size_limit_is_enforced(runner, tmp_path):
    path = write(tmp_path / "big.ttl", PREFIXES + ACME * 100)
    run = runner("validate", "--max-file-size", "1000", str(path))
    assert run.status == 2 and "Too large" in run.err and "--max-file-size" in run.err
    assert runner("validate", "--max-file-size", str(10**6), str(path)).status == 0


def test_missing_file_exits_2(runner, tmp_path):
    run = runner("validate", str(tmp_path / "absent.ttl"))
    assert run.status == 2 and "No such file" in run.err


def test_control_characters_in_a_file_name_are_escaped(runner, tmp_path):
    path = write(tmp_path / "x\n::error file=a.ttl::owned\x1b[31m.ttl", "oops")
    run = runner("validate", str(path))
    assert run.status == 2
    assert "\n::error" not in run.err and "\x1b" not in run.err
