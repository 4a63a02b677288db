"""The release as tables and catalogue entries: the Frictionless Data Package, DCAT and the home page's schema.org."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCTERMS, RDF

from autokg import __version__
from autokg.config import project_files

DCAT = Namespace("http://www.w3.org/ns/dcat#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
DATASET = URIRef("https://w3id.org/autokg/dataset")
FRICTIONLESS = shutil.which("frictionless") or str(Path(__import__("sys").executable).parent / "frictionless")


@pytest.fixture(scope="module")
def dist(built) -> Path:
    return built.dist


@pytest.fixture(scope="module")
def package(dist) -> dict:
    return json.loads((dist / "datapackage" / "datapackage.json").read_text(encoding="utf-8"))


def test_frictionless_validates_the_package(dist):
    """Schemas, types, primary and foreign keys, byte counts and hashes, as `frictionless validate` checks them."""
    result = subprocess.run([FRICTIONLESS, "validate", "--json", str(dist / "datapackage" / "datapackage.json")],
                            capture_output=True, text=True, timeout=300)
    report = json.loads(result.stdout)
    assert result.returncode == 0 and report["valid"], result.stdout[-3000:]
    assert len(report["tasks"]) >= 20


def test_frictionless_rejects_a_tampered_table(dist, tmp_path):
    """The check can fail: a row changed after the build breaks the table's hash and byte count."""
    copy = tmp_path / "datapackage"
    shutil.copytree(dist / "datapackage", copy)
    with open(copy / "agreement.csv", "a", encoding="utf-8") as table:
        table.write("https://w3id.org/autokg/id/agreement--x--y,added later" + "," * 16 + "\n")
    result = subprocess.run([FRICTIONLESS, "validate", "--json", str(copy / "datapackage.json")],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and not json.loads(result.stdout)["valid"]


def test_one_table_per_relationship_type_with_parties_status_certainty_quote_and_source(package):
    names = {r["name"] for r in package["resources"]}
    assert {"entities", "sources", "evidence", "agreement", "joint-venture-formation", "parent-subsidiary",
            "affiliation", "product-offering"} <= names
    agreement = next(r for r in package["resources"] if r["name"] == "agreement")
    fields = [f["name"] for f in agreement["schema"]["fields"]]
    for column in ("relationship", "label", "partner", "partner_label", "agreement_type", "status", "certainty", "quote", "source"):
        assert column in fields
    assert package["version"] == __version__ and package["licenses"][0]["name"] == "CC-BY-4.0"


def test_pandas_reads_every_table_without_extra_code(dist, package):
    for resource in package["resources"]:
        frame = pd.read_csv(dist / "datapackage" / resource["path"], keep_default_na=False)
        assert list(frame.columns) == [f["name"] for f in resource["schema"]["fields"]]
    figures = pd.read_csv(dist / "datapackage" / "figure.csv")
    assert figures["value"].dtype.kind == "f", "numbers are numbers"
    ventures = pd.read_csv(dist / "datapackage" / "joint-venture-formation.csv", keep_default_na=False)
    zhiji = ventures[ventures["resulting_organization"].str.endswith("/zhiji-motor")].iloc[0]
    assert zhiji["quote"].startswith("SAIC Motor, the Pudong New Area and Alibaba Group launched Zhiji Motor")
    assert zhiji["certainty"] == "reported" and zhiji["source"] == "source-001"
    raised = pd.read_csv(dist / "datapackage" / "figure.csv", keep_default_na=False).set_index("relationship")
    assert raised.loc["https://w3id.org/autokg/id/figure--zhiji-motor--capital-raised", "converted_amount"] == ">= 1520000000.0 USD"


def test_evidence_table_holds_every_quote(dist):
    evidence = pd.read_csv(dist / "datapackage" / "evidence.csv", keep_default_na=False)
    data = project_files()
    from autokg.rdf.loading import load_project
    from autokg.config import ONTOLOGY_NS
    project = load_project(data)
    assert len(evidence) == len(set(project.data.subjects(URIRef(ONTOLOGY_NS + "quote"), None)))
    assert set(evidence["certainty"]) <= {"confirmed", "reported", "rumoured", "denied"}


def test_dcat_describes_every_distribution_with_media_type_checksum_licence_and_version(dist):
    dcat = Graph().parse(dist / "dcat.ttl")
    assert (DATASET, RDF.type, DCAT.Dataset) in dcat
    assert str(dcat.value(DATASET, DCAT.version)) == __version__
    listed = {}
    for node in dcat.objects(DATASET, DCAT.distribution):
        name = str(dcat.value(node, DCTERMS.title))
        checksum = dcat.value(node, SPDX.checksum)
        assert dcat.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
        assert str(dcat.value(node, DCTERMS.license)) == "https://creativecommons.org/licenses/by/4.0/"
        assert str(dcat.value(node, DCAT.mediaType)).startswith("https://www.iana.org/assignments/media-types/")
        listed[name] = str(dcat.value(checksum, SPDX.checksumValue))
    assert {"autokg.nt", "autokg.ttl", "void.ttl", "datapackage/datapackage.json", "datapackage/entities.csv"} <= set(listed)
    for name, digest in listed.items():
        assert hashlib.sha256((dist / name).read_bytes()).hexdigest() == digest, name
    assert str(dcat.value(URIRef(f"{DATASET}/distribution/autokg.nt"), DCAT.mediaType)).endswith("application/n-triples")


def test_checksums_cover_the_tables_and_dcat(dist):
    names = {line.split("  ")[1] for line in (dist / "SHA256SUMS").read_text().splitlines()}
    assert {"dcat.ttl", "datapackage/datapackage.json", "datapackage/evidence.csv"} <= names


def test_home_page_embeds_a_schema_org_dataset(client, dist):
    html = client.get("/").get_data(as_text=True)
    found = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert found, "no JSON-LD on the home page"
    dataset = json.loads(found.group(1))
    assert dataset["@type"] == "Dataset" and dataset["license"].startswith("https://creativecommons.org/licenses/by/4.0")
    assert dataset["version"] == __version__ and dataset["url"] == "https://w3id.org/autokg/"
    downloads = {d["name"]: d for d in dataset["distribution"]}
    assert downloads["autokg.nt"]["encodingFormat"] == "application/n-triples"
    assert downloads["datapackage/datapackage.json"]["sha256"] == hashlib.sha256(
        (dist / "datapackage" / "datapackage.json").read_bytes()).hexdigest()
    offline = dict(dataset, **{"@context": {"@vocab": "https://schema.org/"}})  # the same context, without fetching it
    graph = Graph().parse(data=json.dumps(offline), format="json-ld")
    assert (DATASET, RDF.type, URIRef("https://schema.org/Dataset")) in graph and len(graph) > 20


def test_dcat_is_served_next_to_void(client, dist):
    response = client.get("/dcat")
    assert response.status_code == 200 and response.content_type.startswith("text/turtle")
    assert response.data == (dist / "dcat.ttl").read_bytes()
