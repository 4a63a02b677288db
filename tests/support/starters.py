"""Which tests start a server (issue 23): a pytest plugin that writes, for every collected test, whether it carries
the `live` marker and whether its code, its fixtures' or a helper's they call, starts a server or an engine."""

from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
import types
from pathlib import Path

from support.paths import ROOT

#: names whose use starts a process that keeps running (a server, an engine, a browser), or names `autokg serve`
STARTER_NAMES = {"Popen", "Chrome"}
STARTER_CONSTANTS = {"serve"}
#: what runs a command line: "serve" beside one of these starts the server, beside parse_args only names it
RUNNERS = {"run", "check_output", "call", "main"}
#: the environment variable naming the file the plugin writes
OUTPUT = "AUTOKG_STARTERS_OUTPUT"


def ours(thing: object) -> bool:
    """Whether a function, class or module is the project's test or benchmark code (not the package, not a library)."""
    try:
        path = Path(inspect.getfile(inspect.unwrap(thing) if callable(thing) else thing)).resolve()
    except (TypeError, OSError):
        return False
    return path.is_relative_to(ROOT / "tests") or path.is_relative_to(ROOT / "bench")


def code_objects(code: types.CodeType):
    """A code object and the ones nested in it (lambdas, comprehensions, inner functions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from code_objects(const)


def functions_of(thing: object) -> list[types.FunctionType]:
    """The functions a name stands for: itself, a class's methods (inherited too), a module's functions and classes."""
    thing = inspect.unwrap(thing) if callable(thing) else thing
    if isinstance(thing, types.FunctionType):
        return [thing]
    if isinstance(thing, type):
        return [f for cls in thing.__mro__ if ours(cls) for f in vars(cls).values() if isinstance(f, types.FunctionType)]
    if isinstance(thing, types.ModuleType):
        return [f for value in vars(thing).values() if getattr(value, "__module__", None) == thing.__name__
                for f in functions_of(value)]
    return []


def imported(name: str) -> types.ModuleType | None:
    """The module of the tests' helpers or the benchmarks that `name` is, imported if need be, or None."""
    if name in sys.modules:
        return sys.modules[name]
    if name.startswith("support.") or (ROOT / "bench" / f"{name}.py").is_file():
        return importlib.import_module(name)
    return None


def starts_server(roots: list, fixture_function=lambda name: None) -> bool:
    """Whether any of `roots`, or what they call in the project's test and bench code, starts a server.

    `fixture_function(name)` gives the function of a fixture that the code asks for by name (getfixturevalue).
    """
    seen: set[types.CodeType] = set()
    pending = [f for root in roots for f in functions_of(root)]
    while pending:
        function = pending.pop()
        for code in code_objects(function.__code__):
            if code in seen:
                continue
            seen.add(code)
            strings = {c for c in code.co_consts if isinstance(c, str)}
            runs = RUNNERS & set(code.co_names) or "runner" in code.co_varnames
            if STARTER_NAMES & set(code.co_names) or (STARTER_CONSTANTS & strings and runs):
                return True
            # globals, and modules imported inside a function (`from support.servers import serving`)
            found = [function.__globals__.get(name) or imported(name) for name in code.co_names]
            modules = [m for m in found if isinstance(m, types.ModuleType) and ours(m)]
            found = [thing for thing in found if not isinstance(thing, types.ModuleType)]
            found += [getattr(m, name, None) for m in modules for name in code.co_names]
            found += [fixture_function(name) for name in strings]
            # a bench script run as a subprocess (`BENCH / "soak.py"`) is searched whole
            found += [function.__globals__.get(name[:-3]) for name in strings if name.endswith(".py")]
            pending += [f for thing in found if thing is not None and ours(thing) for f in functions_of(thing)]
    return False


def item_starts_server(item) -> bool:
    """Whether a collected test, or a fixture it uses, starts a server."""
    manager = item.session._fixturemanager

    def fixture_function(name: str):
        definitions = manager.getfixturedefs(name, item) or ()
        return definitions[-1].func if definitions else None

    fixtures = [fixture_function(name) for name in item.fixturenames]
    return starts_server([item.function, *(f for f in fixtures if f is not None)], fixture_function)


def pytest_collection_finish(session) -> None:
    """Write what was found for every test to the file that AUTOKG_STARTERS_OUTPUT names."""
    rows = [{"test": item.nodeid, "live": item.get_closest_marker("live") is not None,
             "starts": hasattr(item, "function") and item_starts_server(item)} for item in session.items]
    Path(os.environ[OUTPUT]).write_text(json.dumps(rows), encoding="utf-8")
