"""The `autokg` command line: the only module that prints or exits."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pyoxigraph as ox

from autokg import __version__
from autokg.build.artefacts import build
from autokg.build.articles import add_article, check_quotes
from autokg.build.statistics import dataset_summary, render_summary
from autokg.config import ProjectFiles, project_files
from autokg.errors import AutokgError
from autokg.query.catalog import bind_parameters, find_query, load_catalog, with_parameters
from autokg.query.running import OUTPUT_FORMATS, execute, execute_remote, render
from autokg.rdf.loading import MAX_INPUT_BYTES, escape, load_project
from autokg.rdf.turtle import format_turtle_file
from autokg.settings import SETTINGS, add_flags, flag_values, resolve, settings_markdown
from autokg.stores.embedded import current_store, open_store
from autokg.stores.push import UPDATE_PATHS, parse_auth, part_files, push, query_endpoint_for, sibling_endpoint
from autokg.stores.remote import WIKIDATA_ENDPOINT
from autokg.validate.report import REPORT_FORMATS
from autokg.validate.validation import validate_files, validate_project
from autokg.wikidata.export import WIKIBASE_PREFIXES, LeftOut, exportable_facts, quickstatements, wikibase_rdf
from autokg.wikidata.reconcile import Candidate, diff, link_candidates, missing_statements, render_differences, unlinked_entities

FAIL_ON = {"violation": "Violation", "warning": "Warning", "info": "Info"}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="autokg", description="Validate, inspect and serve the autokg dataset.")
    parser.add_argument("--version", action="version", version=f"autokg {__version__}")
    add_flags(parser, "all")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check data against autokg's ontology and shapes")
    validate.add_argument("files", nargs="*", type=Path, help="RDF files to check (default: the project's own data)")
    validate.add_argument("--format", choices=REPORT_FORMATS, default="text", help="report format (default: text)")
    validate.add_argument(
        "--fail-on", choices=sorted(FAIL_ON), default="violation",
        help="lowest severity that makes the exit status 1 (default: violation)",
    )
    validate.add_argument("--alone", action="store_true",
                          help="check the FILES by themselves, not in the context of the project's data")
    validate.add_argument("--max-file-size", type=int, default=MAX_INPUT_BYTES, metavar="BYTES",
                          help=f"refuse an input file larger than this (default {MAX_INPUT_BYTES})")
    validate.set_defaults(run=run_validate)

    summary = commands.add_parser("summary", help="print the dataset's counts")
    summary.add_argument("--format", choices=("text", "json"), default="text")
    summary.set_defaults(run=run_summary)

    queries = commands.add_parser("queries", help="list the competency queries")
    queries.set_defaults(run=run_queries)

    query = commands.add_parser("query", help="run a competency query (by name) or a query file")
    query.add_argument("query", metavar="NAME|FILE", help="a catalogue name (see `autokg queries`) or a .rq file")
    query.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="bind a query parameter")
    query.add_argument("--format", choices=OUTPUT_FORMATS, help="output format (default: table on a terminal, else csv or turtle)")
    query.add_argument("--endpoint", help="run on this SPARQL endpoint instead of the built store")
    query.add_argument("--timeout", type=float, default=60.0, help="seconds for a remote endpoint to answer (default 60)")
    query.set_defaults(run=run_query)

    serve = commands.add_parser("serve", help="run the SPARQL endpoint behind granian")
    add_flags(serve, "serve")
    serve.set_defaults(run=run_serve)

    settings = commands.add_parser("settings", help="the server's settings: each one's value and where it came from")
    settings.add_argument("--markdown", action="store_true", help="print the settings' reference (docs/configuration.md) instead")
    add_flags(settings, "serve")  # what `autokg serve` with these flags would run with
    settings.set_defaults(run=run_settings)

    export = commands.add_parser("export", help="export facts in Wikidata's model")
    export.add_argument("target", choices=("wikidata", "quickstatements"),
                        help="wikidata: Wikibase RDF of every exportable fact; quickstatements: V1 commands for the facts Wikidata lacks")
    export.add_argument("--format", choices=("turtle", "ntriples"), default="turtle", help="RDF syntax of `export wikidata`")
    export.add_argument("--output", type=Path, help="write here instead of standard output")
    export.add_argument("--report", type=Path, help="write the facts left out, with the reason, here (TSV) instead of standard error")
    add_endpoint_options(export, "the Wikidata endpoint that `export quickstatements` compares with")
    export.set_defaults(run=run_export)

    diff = commands.add_parser("diff-wikidata", help="compare our facts with Wikidata's, property by property")
    diff.add_argument("--format", choices=("table", "csv", "json"), default="table")
    add_endpoint_options(diff, "the Wikidata SPARQL endpoint")
    diff.set_defaults(run=run_diff)

    links = commands.add_parser("links", help="entities without a Wikidata link, most connected first")
    links.add_argument("--endpoint", help="propose candidates from this Wikidata endpoint by exact English or Chinese label")
    links.add_argument("--timeout", type=float, default=60.0, help="seconds per remote request (default 60)")
    links.set_defaults(run=run_links)

    push_command = commands.add_parser("push", help="load the built parts into an external store (SPARQL 1.1 Graph Store Protocol)")
    push_command.add_argument("--to", required=True, metavar="URL",
                              help="the store's Graph Store endpoint, e.g. http://host:7878/store (Oxigraph) or "
                                   "http://host:8890/sparql-graph-crud-auth (Virtuoso)")
    push_command.add_argument("--auth", metavar="USER[:PASSWORD]", help="credentials (Basic or Digest); without a password, $AUTOKG_PUSH_PASSWORD")
    push_command.add_argument("--endpoint", metavar="URL", help="the store's query endpoint, for counting back (default: guessed from --to)")
    push_command.add_argument("--update", metavar="URL", help="the store's SPARQL Update endpoint: stage each part, then MOVE it "
                                                             "onto its graph in one request (default: guessed from --to)")
    push_command.add_argument("--direct", action="store_true", help="PUT straight onto each graph, with no staging graph")
    push_command.add_argument("--timeout", type=float, default=300.0, help="seconds per request (default 300)")
    push_command.set_defaults(run=run_push)

    build = commands.add_parser("build", help="derive shortcuts, write release artefacts to dist/ and build the store")
    build.set_defaults(run=run_build)

    fmt = commands.add_parser("fmt", help="rewrite the project's Turtle files in canonical sorted form")
    fmt.add_argument("files", nargs="*", type=Path, help="Turtle files (default: every file the project maintains)")
    fmt.add_argument("--check", action="store_true", help="only report files that are not canonical (exit 1 if any)")
    fmt.set_defaults(run=run_fmt)

    article = commands.add_parser("add-article", help="copy a new article's text in and scaffold its source node and article file")
    article.add_argument("text", type=Path, help="the article's text, UTF-8")
    article.add_argument("--headline", help="the headline, as the text gives it")
    article.add_argument("--published", metavar="YYYY-MM-DD", help="publication date, when the text or its page gives it")
    article.add_argument("--url", help="where the article was published")
    article.add_argument("--publisher", metavar="SLUG", help="the publisher's entity slug (add the entity to data/entities.ttl)")
    article.add_argument("--language", default="en", help="the text's language tag (default en)")
    article.set_defaults(run=run_add_article)

    quotes = commands.add_parser("check-quotes", help="check that every quote occurs verbatim in its source's text")
    quotes.add_argument("files", nargs="*", type=Path, help="article files (default: all data files)")
    quotes.set_defaults(run=run_check_quotes)
    return parser


def run_validate(args: argparse.Namespace) -> int:
    """`autokg validate`: exit 0 when the data conforms, 1 on findings at the threshold, 2 on unreadable input."""
    project = load_project(project_files(args.root))
    report = validate_files(args.files, project, args.max_file_size, args.alone) if args.files else validate_project(project)
    sys.stdout.write(report.render(args.format, FAIL_ON[args.fail_on]))
    context = f" in the context of the project's data ({len(report.context)} other files)" if report.context else ""
    print(f"autokg: validated {report.triples} triples{context} in {report.seconds:.2f} s", file=sys.stderr)
    return 1 if report.fails(FAIL_ON[args.fail_on]) else 0


def run_summary(args: argparse.Namespace) -> int:
    """`autokg summary`: print the counts of the project's data."""
    project = load_project(project_files(args.root))
    summary = dataset_summary(project.data, project.ontology)
    sys.stdout.write(json.dumps(summary, indent=2) + "\n" if args.format == "json" else render_summary(summary))
    return 0


def run_queries(args: argparse.Namespace) -> int:
    """`autokg queries`: the catalogue, one query a line with its parameters."""
    for query in load_catalog(project_files(args.root).queries).values():
        params = ", ".join(f"{p.name} ({p.type})" for p in query.parameters)
        print(f"{query.name:<34} {query.title}" + (f"  [{params}]" if params else ""))
    return 0


def parse_param_options(options: list[str]) -> dict[str, str]:
    """--param NAME=VALUE options as a dict; raises AutokgError on a malformed one."""
    values = {}
    for option in options:
        name, sep, value = option.partition("=")
        if not sep or not name:
            raise AutokgError(f"--param '{option}': write NAME=VALUE")
        if name in values:
            raise AutokgError(f"--param {name} is given twice")
        values[name] = value
    return values


def run_query(args: argparse.Namespace) -> int:
    """`autokg query`: run a catalogue query or a file on the built store."""
    files = project_files(args.root)
    query = find_query(load_catalog(files.queries), args.query)
    text = with_parameters(query, bind_parameters(query, parse_param_options(args.param)))
    results = execute_remote(args.endpoint, text, args.timeout) if args.endpoint else execute(ready_store(files), text)
    fmt = args.format or ("table" if sys.stdout.isatty() else ("turtle" if query.form in ("CONSTRUCT", "DESCRIBE") else "csv"))
    write_output(render(results, fmt), None)
    return 0


def add_endpoint_options(command: argparse.ArgumentParser, what: str) -> None:
    """--endpoint and --timeout for commands that query Wikidata."""
    command.add_argument("--endpoint", default=WIKIDATA_ENDPOINT, help=f"{what} (default {WIKIDATA_ENDPOINT})")
    command.add_argument("--timeout", type=float, default=60.0, help="seconds per remote request (default 60)")


def ensure_built(files: ProjectFiles) -> None:
    """Build dist/ and the store when the inputs changed since the last build."""
    if current_store(files) is None:
        print("autokg: the data changed since the last build; building the store first", file=sys.stderr)
        build(files)


def ready_store(files: ProjectFiles) -> ox.Store:
    """The built store, opened read-only, after a build if the inputs changed."""
    ensure_built(files)
    return open_store(files)


def write_output(data: bytes, path: Path | None) -> None:
    """Bytes to a file, or to standard output."""
    if path is None:
        sys.stdout.flush()  # text printed before stays before
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        path.write_bytes(data)


def write_report(left_out: list[LeftOut], path: Path | None) -> None:
    """The facts left out, one per line with the reason: to a TSV file, or to standard error."""
    lines = ["relationship\treason\tlabel"] + [f"{item.relationship}\t{item.reason}\t{item.label}" for item in left_out]
    if path is not None:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        print(f"autokg: {len(left_out)} facts left out:", file=sys.stderr)
        print("\n".join(lines[1:]), file=sys.stderr)


def run_export(args: argparse.Namespace) -> int:
    """`autokg export wikidata|quickstatements`."""
    store = ready_store(project_files(args.root))
    export = exportable_facts(store)
    if args.target == "wikidata":
        fmt = ox.RdfFormat.TURTLE if args.format == "turtle" else ox.RdfFormat.N_TRIPLES
        prefixes = WIKIBASE_PREFIXES if fmt == ox.RdfFormat.TURTLE else None
        write_output(ox.serialize(wikibase_rdf(export), format=fmt, prefixes=prefixes), args.output)
        write_report(export.left_out, args.report)
        print(f"autokg: exported {len(export.statements)} statements", file=sys.stderr)
        return 0
    differences = diff(store, export, args.endpoint, args.timeout)
    commands, skipped = quickstatements(export, missing_statements(differences))
    write_output(commands.encode("utf-8"), args.output)
    write_report(export.left_out + skipped, args.report)
    print(f"autokg: {commands.count(chr(10))} QuickStatements commands", file=sys.stderr)
    return 0


def run_diff(args: argparse.Namespace) -> int:
    """`autokg diff-wikidata`: agree, missing in Wikidata, missing in autokg or conflict, fact by fact."""
    store = ready_store(project_files(args.root))
    differences = diff(store, exportable_facts(store), args.endpoint, args.timeout)
    sys.stdout.write(render_differences(differences, args.format))
    return 0


def run_links(args: argparse.Namespace) -> int:
    """`autokg links`: unlinked entities by number of relationships; with --endpoint, candidates to confirm."""
    unlinked = unlinked_entities(ready_store(project_files(args.root)))
    candidates = link_candidates(unlinked, args.endpoint, args.timeout) if args.endpoint else []
    by_entity: dict[str, list[Candidate]] = {}
    for candidate in candidates:
        by_entity.setdefault(candidate.entity, []).append(candidate)
    for entity in unlinked:
        print(f"{entity.relationships:>4}  {entity.label}  <{entity.iri}>")
        for c in by_entity.get(entity.iri, []):
            print(f"        candidate {c.item} {c.item_label!r}: {c.description or '(no description)'} (label match: {c.matched!r})")
    if args.endpoint:
        print(f"\n{len(candidates)} candidates for {len(by_entity)} entities; confirm each by hand before adding a skos:exactMatch")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """`autokg serve`: flags override environment variables, which override the settings file and the defaults."""
    from autokg.web.serving import serve  # granian is loaded only by the command that needs it

    serve(flag_values(args))
    return 0


def run_settings(args: argparse.Namespace) -> int:
    """`autokg settings`: each setting's value and where it came from; with --markdown, the reference page."""
    if args.markdown:
        sys.stdout.write(settings_markdown())
        return 0
    values, sources = resolve(flag_values(args))
    for setting in SETTINGS:
        value = values[setting.name]
        shown = ",".join(value) if isinstance(value, tuple) else str(value)
        print(f"{setting.name:<20} {escape(shown) or '(empty)':<40} {sources.get(setting.name, 'default')}")
    return 0


def run_push(args: argparse.Namespace) -> int:
    """`autokg push`: replace each part's graph in an external store, then check the counts."""
    auth = parse_auth(args.auth)
    endpoint = args.endpoint or query_endpoint_for(args.to)
    update = None if args.direct else (args.update or sibling_endpoint(args.to, UPDATE_PATHS))
    files = project_files(args.root)
    ensure_built(files)
    for part in push(part_files(files), args.to, endpoint, auth, args.timeout, update):
        print(f"{part.part:<10} {part.sent:>8} triples sent, {part.stored:>8} in <{part.graph}>")
    how = f"staged and moved with {update}" if update else "PUT straight onto each graph (atomic only where the store's PUT is)"
    print(f"pushed to {args.to} ({how}); counts checked on {endpoint}")
    return 0


def run_build(args: argparse.Namespace) -> int:
    """`autokg build`: write dist/ and (when the inputs changed) the store."""
    result = build(project_files(args.root))
    for part, count in result.triples.items():
        print(f"{part:<10} {count:>6} triples")
    print(f"wrote {len(result.files)} files to {result.dist}")
    print(f"store {result.store} ({'rebuilt' if result.store_rebuilt else 'up to date'})")
    return 0


def run_fmt(args: argparse.Namespace) -> int:
    """`autokg fmt`: canonicalize Turtle files, or with --check list those that are not canonical."""
    paths = args.files or project_files(args.root).turtle_files()
    changed = [path for path in paths if format_turtle_file(path, write=not args.check)]
    for path in changed:
        print(f"{'not canonical' if args.check else 'reformatted'}: {path}")
    return 1 if (args.check and changed) else 0


def run_add_article(args: argparse.Namespace) -> int:
    """`autokg add-article`: the text under data/sources/, its source node, an empty data/articles/NNN.ttl."""
    made = add_article(project_files(args.root), args.text, args.headline, args.published, args.url, args.publisher, args.language)
    print(f"text    {made.text}\nsource  akr:{made.source} in data/sources.ttl\narticle {made.article}")
    print(f"next: write the relationships into {made.article.name} (evidence: akg:source akr:{made.source}), then "
          f"`autokg check-quotes {made.article}` and `autokg validate`")
    return 0


def run_check_quotes(args: argparse.Namespace) -> int:
    """`autokg check-quotes`: exit 1 when a quote is not verbatim in its source, naming the file and line."""
    checked, problems = check_quotes(project_files(args.root), args.files or None)
    for problem in problems:
        print(f"{problem.path}:{problem.line}: {problem.evidence}: quote not in the source's text\n"
              f"    quote:   {problem.quote!r}\n    closest: {problem.closest!r}")
    print(f"autokg: {checked} quotes checked, {len(problems)} not verbatim", file=sys.stderr)
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except AutokgError as error:
        print(f"autokg: error: {escape(str(error))}", file=sys.stderr)
        return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
