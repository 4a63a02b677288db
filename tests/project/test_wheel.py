"""The wheel, installed into a fresh virtualenv in a temporary folder, runs every command from any folder.

The wheel is built from this checkout, installed with its dependencies (from the package index, as pipx
would), and its `autokg` runs in an empty folder, away from the checkout: its answers must be the checkout's.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest
from rdflib import Graph

from support.paths import TESTS
from support.servers import free_port

pytestmark = pytest.mark.slow

ROOT = TESTS.parent


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, object]:
    """The wheel installed into a new virtualenv; yields its `autokg`, an empty working folder and the environment."""
    work = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(work / "wheels"), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next((work / "wheels").glob("autokg-*.whl"))
    subprocess.run([sys.executable, "-m", "venv", str(work / "venv")], check=True)
    subprocess.run([str(work / "venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", str(wheel)], check=True, capture_output=True)
    elsewhere = work / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUTOKG_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HOME=str(work / "home"), AUTOKG_CACHE_DIR=str(work / "cache"))
    return {"autokg": str(work / "venv" / "bin" / "autokg"), "python": str(work / "venv" / "bin" / "python"),
            "cwd": elsewhere, "env": env, "cache": work / "cache"}


def run(installed, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The installed `autokg ARGS` in the empty folder."""
    result = subprocess.run([installed["autokg"], *args], cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True, timeout=300)
    assert not check or result.returncode == 0, result.stderr[-2000:]
    return result


def test_the_package_runs_from_the_wheel_not_the_checkout(installed):
    found = subprocess.run([installed["python"], "-c", "import autokg.config as c; print(c.project_files().root)"],
                           cwd=installed["cwd"], env=installed["env"], capture_output=True, text=True, check=True).stdout.strip()
    assert "site-packages" in found and found.endswith("autokg/project") and not found.startswith(str(ROOT) + "/")


@pytest.mark.parametrize("args", [("query", "joint-ventures", "--format", "csv"), ("query", "are-tied", "--format", "csv"),
                                  ("query", "joint-ventures", "--format", "json", "--param", "partner=akr:saic-motor"), ("queries",)])
def test_queries_give_the_checkout_answers(installed, runner, args):
    theirs = run(installed, *args).stdout
    mine = runner(*args)
    assert mine.status == 0 and sorted(theirs.splitlines()) == sorted(mine.out.splitlines()) and theirs.strip()
    if args[1:2] == ("are-tied",):
        assert theirs == "true\n"


def test_validate_a_file_and_the_packaged_data(installed, tmp_path):
    invalid = sorted((ROOT / "tests" / "validate" / "shapes" / "invalid").glob("*.ttl"))[0]
    mine = tmp_path / "my-data.ttl"
    mine.write_bytes((ROOT / "tests" / "validate" / "shapes" / "base.ttl").read_bytes() + b"\n" + invalid.read_bytes())
    failed = run(installed, "validate", str(mine), check=False)
    assert failed.returncode == 1 and "Violation" in failed.stdout
    assert run(installed, "validate").returncode == 0


def test_export_wikidata(installed, runner, tmp_path):
    run(installed, "export", "wikidata", "--output", "wd.ttl", "--report", "left-out.tsv")
    theirs = Graph().parse(installed["cwd"] / "wd.ttl", format="turtle")
    mine = runner("export", "wikidata", "--output", str(tmp_path / "wd.ttl"), "--report", str(tmp_path / "r.tsv"))
    assert mine.status == 0 and len(theirs) == len(Graph().parse(tmp_path / "wd.ttl", format="turtle")) > 0
    # the build went to the cache folder, not into the installed package
    assert (installed["cache"] / "0.1.0" / "dist" / "autokg.nq").is_file()


@pytest.mark.live
def test_serve(installed):
    port = free_port()
    process = subprocess.Popen([installed["autokg"], "serve", "--port", str(port), "--workers", "1"], cwd=installed["cwd"],
                               env=installed["env"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2):
                    break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        query = "SELECT (COUNT(*) AS ?n) WHERE { ?s a <https://w3id.org/autokg/ontology#JointVentureFormation> }"
        request = urllib.request.Request(base + "/sparql?" + urllib.parse.urlencode({"query": query}), headers={"Accept": "text/csv"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert int(response.read().decode().splitlines()[1]) > 0
        with urllib.request.urlopen(base + "/id/im-motors", timeout=10) as response:  # a page: the templates are in the wheel
            assert "IM Motors" in response.read().decode()
        with urllib.request.urlopen(base + "/void", timeout=10) as response:
            assert b"void:Dataset" in response.read()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
