"""One table of settings (src/autokg/settings.py) makes the flags, the AUTOKG_* variables, the Flask config and
docs/configuration.md, and a value comes from a flag, else the environment, else the settings file, else the default."""

from __future__ import annotations

import argparse
import math
import subprocess
import sys

import pytest

from autokg import resources, settings
from autokg.cli import build_parser
from autokg.errors import SettingError
from autokg.settings import BY_NAME, COMMAND_OPTIONS, SETTINGS, coerce_setting, flag_values, resolve, settings_markdown
from support.paths import ROOT

DOCS = ROOT / "docs" / "configuration.md"
TINY = "<https://example.org/a> <https://example.org/b> <https://example.org/c> .\n"


def subcommand(name: str) -> argparse.ArgumentParser:
    """The parser of one `autokg` command."""
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return commands.choices[name]


def options(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    """Every option string of a parser, with its action."""
    return {flag: action for action in parser._actions for flag in action.option_strings}


def test_the_configuration_page_is_what_the_table_generates():
    assert DOCS.read_text(encoding="utf-8") == settings_markdown(), \
        "docs/configuration.md is stale: run `autokg settings --markdown > docs/configuration.md`"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.name)
def test_every_setting_has_a_flag_a_variable_a_config_key_and_a_line_in_the_docs(setting, tmp_path, monkeypatch):
    parser = build_parser() if setting.scope == "all" else subcommand("serve")
    assert options(parser)[setting.flag].dest == setting.dest
    lines = [line for line in DOCS.read_text(encoding="utf-8").splitlines() if line.startswith(f"| `{setting.name}` |")]
    assert len(lines) == 1 and f"{setting.flag} {setting.placeholder}`".replace("|", "\\|") in lines[0] and f"`{setting.variable}`" in lines[0]
    assert setting.help in lines[0] and setting.wanted() in lines[0]
    monkeypatch.setenv(setting.variable, str(setting.default if setting.kind != settings.LIST else ",".join(setting.default)))
    assert setting.name in settings.environment_settings()
    from autokg.web.app import create_app

    dataset = tmp_path / "tiny.nq"
    dataset.write_text(TINY)
    monkeypatch.delenv("AUTOKG_CONFIG", raising=False)
    monkeypatch.setenv("AUTOKG_DATASET", str(dataset))
    if setting.name in ("DATASET", "ROOT", "BACKEND", "STORE"):  # keep the tiny dataset served
        monkeypatch.delenv(setting.variable, raising=False)
    app = create_app({"TESTING": True, "LOG_LEVEL": "warning"})
    assert setting.name in app.config


def test_every_flag_of_serve_is_a_setting_or_a_documented_option():
    flags = {s.flag for s in SETTINGS if s.scope == "serve"}
    documented = {name for names in COMMAND_OPTIONS for name in names.split(", ")}
    page = DOCS.read_text(encoding="utf-8")
    assert set(options(subcommand("serve"))) <= flags | documented
    assert all(f"`{names}`" in page for names in COMMAND_OPTIONS)
    assert set(options(subcommand("settings"))) >= flags, "`autokg settings` takes the flags of `autokg serve`"


@pytest.mark.parametrize("argv,expected", [
    (["--host", "0.0.0.0"], {"HOST": "0.0.0.0"}),
    (["--port", "0"], {"PORT": 0}),
    (["--workers", "3", "--threads", "2"], {"WORKERS": 3, "THREADS": 2}),
    (["--query-slots", "2", "--query-queue", "0", "--query-memory", "512"], {"QUERY_SLOTS": 2, "QUERY_QUEUE": 0, "QUERY_MEMORY": 512}),
    (["--timeout", "2.5", "--header-timeout", "4"], {"TIMEOUT": 2.5, "HEADER_TIMEOUT": 4.0}),
    (["--max-rows", "10", "--max-result-bytes", "100", "--max-body", "200"], {"MAX_ROWS": 10, "MAX_RESULT_BYTES": 100, "MAX_CONTENT_LENGTH": 200}),
    (["--allow-service", "https://a.example/sparql", "--allow-service", "https://b.example/sparql"],
     {"SERVICE_ALLOW_LIST": ("https://a.example/sparql", "https://b.example/sparql")}),
    (["--store", "disk", "--dataset", "x.nq"], {"STORE": "disk", "DATASET": "x.nq"}),
    (["--backend", "http://127.0.0.1:1/q", "--backend-graph", "urn:a", "--backend-graph", "urn:b"],
     {"BACKEND": "http://127.0.0.1:1/q", "BACKEND_GRAPHS": ("urn:a", "urn:b")}),
    (["--public-base", "https://w3id.org/autokg/", "--backlog", "128", "--log-level", "WARNING"],
     {"PUBLIC_BASE": "https://w3id.org/autokg/", "BACKLOG": 128, "LOG_LEVEL": "warning"}),
    (["--config", "my.cfg"], {"CONFIG": "my.cfg"}),
])
def test_every_flag_spelling_of_serve_still_works(argv, expected):
    args = build_parser().parse_args(["serve", *argv])
    assert {name: coerce_setting(name, value) for name, value in flag_values(args).items()} == expected


def test_root_is_a_flag_of_every_command():
    args = build_parser().parse_args(["--root", "/srv/autokg", "serve"])
    assert flag_values(args) == {"ROOT": "/srv/autokg"}


def bounded() -> list[tuple[str, object, bool]]:
    """(setting, value, accepted) at and past every numeric bound of the table, and values of the wrong kind."""
    cases = []
    for s in SETTINGS:
        if s.kind not in (int, float):
            continue
        cases += [(s.name, math.nan, False), (s.name, "inf", False), (s.name, "ten", False), (s.name, True, False)]
        if s.minimum is not None:
            exclusive = s.kind is float and s.minimum == 0
            cases += [(s.name, s.minimum, not exclusive), (s.name, s.minimum - (0.001 if s.kind is float else 1), False)]
        if s.maximum is not None:
            cases += [(s.name, s.maximum, True), (s.name, s.maximum + 1, False)]
        if s.kind is int:
            cases += [(s.name, 7.5, False), (s.name, f" {s.default} ", True)]
    return cases + [("STORE", "tape", False), ("STORE", "Disk", True), ("LOG_LEVEL", "loud", False),
                    ("SERVICE_ALLOW_LIST", 5, False), ("HOST", 5, False), ("NO_SUCH_SETTING", "1", False)]


@pytest.mark.parametrize("name,value,accepted", bounded())
def test_every_bound_of_the_table_is_enforced(name, value, accepted):
    if accepted:
        coerce_setting(name, value)
    else:
        with pytest.raises(SettingError, match=f"setting {name}"):
            coerce_setting(name, value)


def write_file(path, text: str):
    """A settings file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default(tmp_path, monkeypatch):
    from autokg.web.app import create_app

    dataset = tmp_path / "tiny.nq"
    dataset.write_text(TINY)
    config = write_file(tmp_path / "autokg.cfg", f"THREADS = 7\nMAX_ROWS = 70\nTIMEOUT = 7.0\nDATASET = {str(dataset)!r}\n"
                                                 "SERVICE_ALLOW_LIST = ['https://a.example/sparql']\n")
    monkeypatch.setenv("AUTOKG_CONFIG", str(config))
    monkeypatch.setenv("AUTOKG_THREADS", "6")
    monkeypatch.setenv("AUTOKG_MAX_ROWS", "60")
    app = create_app({"THREADS": 5, "LOG_LEVEL": "warning"})
    values = {name: app.config[name] for name in ("THREADS", "MAX_ROWS", "TIMEOUT", "SERVICE_ALLOW_LIST", "PORT", "CONFIG")}
    assert values == {"THREADS": 5, "MAX_ROWS": 60, "TIMEOUT": 7.0, "SERVICE_ALLOW_LIST": ("https://a.example/sparql",),
                      "PORT": 7878, "CONFIG": str(config)}
    assert app.extensions["autokg"].triples == 1, "the file's DATASET is the one served"
    sources = app.extensions["autokg.settings"]
    assert (sources["THREADS"], sources["MAX_ROWS"], sources["TIMEOUT"], sources["PORT"]) == \
           ("flag", "environment", f"file {config}", "default")


def test_autokg_settings_shows_each_value_and_where_it_came_from(runner, tmp_path, monkeypatch):
    root = tmp_path / "project"
    config = write_file(root / "instance" / "autokg.cfg", "TIMEOUT = 9.0\nMAX_ROWS = 90\n")
    monkeypatch.delenv("AUTOKG_CONFIG", raising=False)
    monkeypatch.setenv("AUTOKG_MAX_ROWS", "80")
    run = runner("--root", str(root), "settings", "--port", "0")
    assert run.status == 0, run.err
    shown = {line.split()[0]: line.split()[1:] for line in run.out.splitlines()}
    assert shown["TIMEOUT"] == ["9.0", "file", str(config)] and shown["MAX_ROWS"] == ["80", "environment"]
    assert shown["PORT"] == ["0", "flag"] and shown["HOST"] == ["127.0.0.1", "default"]
    assert shown["CONFIG"][0] == str(config), "instance/autokg.cfg under --root is the settings file"


def test_the_settings_file_is_found_in_the_project_root_not_in_the_package(monkeypatch, tmp_path):
    monkeypatch.delenv("AUTOKG_ROOT", raising=False)
    checkout = resources.checkout_root()
    expected = checkout / "instance" / "autokg.cfg" if checkout else None
    found = settings.config_file({}, {})
    assert found == (expected if expected and expected.is_file() else None)
    assert "src" not in (found.parts if found else ()), "Flask's instance folder moved under src/ with the package"
    monkeypatch.setattr(resources, "checkout_root", lambda: None)  # an installed wheel: no file unless one is named
    assert settings.config_file({}, {}) is None
    named = write_file(tmp_path / "elsewhere.cfg", "PORT = 1\n")
    assert settings.config_file({}, {"CONFIG": str(named)}) == named


@pytest.mark.parametrize("text,line,words", [
    ("TIMEOUT = 5\nMAX_ROWZ = 3\n", 2, "MAX_ROWZ is not a setting"),
    ("PORT = 1\nCONFIG = 'other.cfg'\n", 2, "CONFIG cannot be set in the settings file"),
    ("PORT = 1\nBACKLOG = 5\n", 2, "setting BACKLOG: give a number of connections from 128 to 65535, not 5"),
    ("PORT = 1\nTIMEOUT = 1 / 0\n", 2, "ZeroDivisionError"),
    ("PORT = (\n", 1, "SyntaxError"),
])
def test_a_bad_settings_file_is_refused_naming_the_file_and_line(tmp_path, text, line, words):
    path = write_file(tmp_path / "autokg.cfg", text)
    with pytest.raises(SettingError) as refused:
        resolve({"CONFIG": str(path)}, {})
    assert str(refused.value).startswith(f"{path}:{line}: ") and words in str(refused.value), str(refused.value)


def test_a_named_settings_file_that_is_missing_is_refused(tmp_path):
    with pytest.raises(SettingError, match="cannot read the settings file"):
        resolve({}, {"AUTOKG_CONFIG": str(tmp_path / "missing.cfg")})


@pytest.mark.live
def test_serve_refuses_a_bad_settings_file_before_anything_starts(tmp_path):
    config = write_file(tmp_path / "autokg.cfg", "HEADER_TIMEOUT = 0\n")
    result = subprocess.run([sys.executable, "-m", "autokg.cli", "serve", "--port", "0", "--config", str(config)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and f"{config}:1: setting HEADER_TIMEOUT" in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr


def test_the_table_names_each_setting_once():
    assert len(BY_NAME) == len(SETTINGS) and len({s.flag for s in SETTINGS}) == len(SETTINGS)
