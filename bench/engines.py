"""External SPARQL engines on 127.0.0.1 for tests and benchmarks: start, load, query, stop.

    with Virtuoso(Path("/tmp/v")) as v:
        v.bulk_load(Path("dist/autokg.nq"))
        print(v.sparql_url)

`Virtuoso` runs Debian's Virtuoso Open Source 7 (`apt-get install virtuoso-opensource-7`; `virtuoso-t` and
`isql-vt`) with its own virtuoso.ini and database files in a work directory, never the packaged service.
`OxigraphServer` runs `oxigraph serve-read-only` from the venv (the test extra) with the same shape.

What we found on Virtuoso 7.2.5 (Debian's 7.2.5.1+dfsg1), and rely on or work around here:
- Both listeners bind to 127.0.0.1 alone with `ServerPort = 127.0.0.1:PORT` ([Parameters] and [HTTPServer]).
- A fresh database's dba password is "dba"; dba may use the authenticated Graph Store endpoint
  /sparql-graph-crud-auth (HTTP digest, realm "SPARQL") with no extra grant: dba holds SPARQL_UPDATE.
  Basic auth gets 401. PUT answers 201 when the graph is new and 200 when it replaced one.
- A Graph Store PUT is NOT atomic. Concurrent readers see the old graph being deleted and the new one
  growing (300 000 triples: counts went 300000, 267917, 0, 65959, ..., 300000 over ~4 s), and a PUT whose
  body fails to parse answers 500 but leaves the graph cleared and holding the triples before the error.
- Debian's ini caps SPARQL results at ResultSetMaxRows = 10000 *silently*; ours sets 1 000 000.
- Timeouts: with the request parameter `timeout` (milliseconds) an "anytime" query that runs out of time
  answers HTTP 200 with PARTIAL results (an aggregate may come back with a wrong count or no row at all)
  and the headers `X-SQL-State: S1TAT`, `X-SQL-Message: RC...: Returning incomplete results, query
  interrupted by result timeout.`, X-Exec-Milliseconds and X-Exec-DB-Activity; a query that streams rows
  instead answers 500 (text/plain) with the rows written so far and that message after them. The time
  actually used was up to twice the parameter. MaxQueryExecutionTime in the ini caps the parameter; with no
  parameter it makes a 500 "SR171: Transaction timed out". Our ini sets neither limit, so a query runs until
  it finishes or until its client hangs up (the server stopped working soon after). autokg.backend checks S1TAT.
- Dialect, as seen by the competency queries (queries/*.rq carry the rewrites, tests/stores/test_virtuoso.py checks):
  boolean constants and the values of comparisons and EXISTS are xsd:integer 1/0 (STRDT("true",
  xsd:boolean) gives a real boolean); the JSON results writer spells a real xsd:boolean "1"/"0", the XML one
  "true"/"false"; given more than one property path that ends in a constant, Virtuoso walks some from the
  data side and silently loses answers (paths that end in a variable made with IRI(STR(…)) do not); an IRI
  made by IF comes back as a string under DISTINCT + ORDER BY; a VALUES row with UNDEF followed by a BIND
  empties the answer when the UNDEF variable is first used after the BIND; 10 / 4 is 2; AVG over strings is 0.
- Literals: language tags come back lowercased (zh-Hans as zh-hans); numbers are stored by value, so their
  lexical form changes ("1.50" -> "1.5", "010" -> "10") and "010"^^xsd:integer and "1.0E1"^^xsd:double in the
  same subject and predicate become ONE triple.
- SIGTERM makes a "quick shutdown" with no checkpoint (the transaction log is replayed at the next start);
  `stop()` asks for `shutdown` over isql first, which checkpoints.
- isql-vt exits 0 even when a statement fails; it writes `*** Error ...` to stderr, which `isql()` turns
  into an exception.
- Without FROM / default-graph-uri, Virtuoso's default graph is every graph in the store, including its
  own system graphs (virtrdf#, ldp#, ...): ask as autokg.backend does, with default-graph-uri and
  named-graph-uri, and XML results.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from types import TracebackType

LOCALHOST = "127.0.0.1"
DEFAULT_BUFFERS = 20000  # 8 KiB pages: about 170 MB of page cache, enough for a few million triples
# graphs a fresh Virtuoso database holds before anything is loaded; clear() leaves them alone
SYSTEM_GRAPH_PREFIXES = ("http://www.openlinksw.com/", "http://www.w3.org/ns/ldp#", "http://localuriqaserver/")
NO_GRAPH = "urn:x-autokg:no-graph"  # where the bulk loader puts N-Quads lines that name no graph, when not told


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind((LOCALHOST, 0))
        return sock.getsockname()[1]


def virtuoso_binary() -> str | None:
    """The path of Virtuoso's server `virtuoso-t`, or None when it is not installed."""
    return shutil.which("virtuoso-t")


def isql_binary() -> str | None:
    """The path of Debian's Virtuoso SQL client `isql-vt` (or `isql` elsewhere), or None."""
    return shutil.which("isql-vt") or shutil.which("isql-v")


def oxigraph_binary() -> str | None:
    """The path of the `oxigraph` server next to this Python (the venv), or on PATH, or None."""
    return shutil.which("oxigraph", path=str(Path(sys.executable).parent)) or shutil.which("oxigraph")


def wait_for_sparql(url: str, process: subprocess.Popen, seconds: float, log: Path | None = None) -> None:
    """Wait until `url` answers `ASK {}` with 200; raises RuntimeError if the process dies or time runs out."""
    deadline = time.monotonic() + seconds
    probe = url + "?" + urllib.parse.urlencode({"query": "ASK {}"})
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server exited with status {process.returncode}" + (f"; see {log}" if log else ""))
        try:
            with urllib.request.urlopen(probe, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds:.0f} s" + (f"; see {log}" if log else ""))


def end_process(process: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM a server process, SIGKILL it after `grace` seconds, and reap it."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait()


class Engine:
    """What the engines share: a server subprocess, its log, and the context-manager protocol."""

    sparql_url: str

    def __init__(self, workdir: Path) -> None:
        self.workdir = Path(workdir).resolve()
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self.process.pid if self.process and self.process.poll() is None else None

    @property
    def log_path(self) -> Path:
        """The file that holds the server's standard output and error."""
        return self.workdir / "server.out"

    def launch(self, command: list[str], url: str, seconds: float) -> None:
        """Start `command` in the work directory and wait until `url` answers SPARQL."""
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(command, cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            wait_for_sparql(url, self.process, seconds, self.log_path)
        except BaseException:
            self.stop()
            raise

    def start(self) -> Engine:
        """Start the server; returns self."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop the server and reap it."""
        if self.process is not None:
            end_process(self.process)

    def disk_bytes(self) -> int:
        """Bytes of the files in the work directory (the database, logs aside)."""
        return sum(p.stat().st_size for p in self.workdir.rglob("*") if p.is_file() and p.suffix not in (".log", ".out"))

    def __enter__(self) -> Engine:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()


class Virtuoso(Engine):
    """Virtuoso Open Source 7 with its own ini and database in `workdir`, listening on 127.0.0.1 only."""

    auth = ("dba", "dba")

    def __init__(self, workdir: Path, buffers: int | None = None, dirs_allowed: tuple[Path, ...] = ()) -> None:
        super().__init__(workdir)
        self.buffers = buffers or DEFAULT_BUFFERS
        self.dirs_allowed = tuple(Path(d).resolve() for d in dirs_allowed)
        self.http_port = self.sql_port = 0
        self.loads = 0

    @property
    def sparql_url(self) -> str:  # type: ignore[override]
        """The SPARQL query endpoint."""
        return f"http://{LOCALHOST}:{self.http_port}/sparql"

    @property
    def graph_store_url(self) -> str:
        """The Graph Store Protocol endpoint that takes writes (HTTP digest auth as `auth`)."""
        return f"http://{LOCALHOST}:{self.http_port}/sparql-graph-crud-auth"

    @property
    def ini_path(self) -> Path:
        """The virtuoso.ini this instance runs with."""
        return self.workdir / "virtuoso.ini"

    @property
    def load_root(self) -> Path:
        """Where `bulk_load` links the files it loads (inside DirsAllowed)."""
        return self.workdir / "load"

    def ini(self) -> str:
        """The text of our virtuoso.ini: files in workdir, ports on 127.0.0.1, no result cap, no query time limit."""
        db = self.workdir
        allowed = ", ".join(str(d) for d in (db, self.load_root, *self.dirs_allowed))
        return f"""\
[Database]
DatabaseFile = {db}/virtuoso.db
ErrorLogFile = {db}/virtuoso.log
LockFile = {db}/virtuoso.lck
TransactionFile = {db}/virtuoso.trx
xa_persistent_file = {db}/virtuoso.pxa
ErrorLogLevel = 7
FileExtend = 200
MaxCheckpointRemap = 2000
Striping = 0
TempStorage = TempDatabase

[TempDatabase]
DatabaseFile = {db}/virtuoso-temp.db
TransactionFile = {db}/virtuoso-temp.trx
MaxCheckpointRemap = 2000
Striping = 0

[Parameters]
ServerPort = {LOCALHOST}:{self.sql_port}
DisableUnixSocket = 1
DisableTcpSocket = 0
CheckpointInterval = 60
CaseMode = 2
DirsAllowed = {allowed}
NumberOfBuffers = {self.buffers}
MaxDirtyBuffers = {self.buffers * 3 // 4}
MaxClientConnections = 32
ThreadsPerQuery = {os.cpu_count() or 1}

[HTTPServer]
ServerPort = {LOCALHOST}:{self.http_port}
ServerRoot = {db}/vsp
ServerThreads = 32
MaxClientConnections = 32
MaxKeepAlives = 32
KeepAliveTimeout = 10
Charset = UTF-8
EnabledGzipContent = 0

[SPARQL]
; Debian's ini says 10000, and Virtuoso cuts results there without saying so
ResultSetMaxRows = 1000000
; MaxQueryExecutionTime and MaxQueryCostEstimationTime left out on purpose: an "anytime" timeout
; answers 200 with partial results (X-SQL-State: S1TAT), which would pass for a right answer
"""

    def start(self) -> Virtuoso:
        """Write virtuoso.ini, start `virtuoso-t +foreground`, and wait until /sparql answers; returns self."""
        binary = virtuoso_binary()
        if binary is None:
            raise RuntimeError("virtuoso-t is not installed: apt-get install virtuoso-opensource-7")
        self.workdir.mkdir(parents=True, exist_ok=True)
        (self.workdir / "vsp").mkdir(exist_ok=True)
        self.load_root.mkdir(exist_ok=True)
        self.http_port, self.sql_port = free_port(), free_port()
        while self.sql_port == self.http_port:
            self.sql_port = free_port()
        self.ini_path.write_text(self.ini(), encoding="utf-8")
        self.launch([binary, "+foreground", "+configfile", str(self.ini_path)], self.sparql_url, 120)
        return self

    def stop(self) -> None:
        """Shut down with a checkpoint (`shutdown` over isql); SIGTERM, then SIGKILL, if it lingers; reap it."""
        if self.process is None or self.process.poll() is not None:
            super().stop()
            return
        try:
            self.isql("shutdown;", timeout=60)
        except (RuntimeError, subprocess.TimeoutExpired):
            pass  # the connection drops as the server goes down; SIGTERM below if it did not
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        super().stop()

    def isql(self, sql: str, timeout: float = 600) -> str:
        """Run SQL statements (separated by ';') with isql-vt as dba; returns their output, raises RuntimeError on an error."""
        binary = isql_binary()
        if binary is None:
            raise RuntimeError("isql-vt is not installed: apt-get install virtuoso-opensource-7")
        user, password = self.auth
        result = subprocess.run([binary, f"{LOCALHOST}:{self.sql_port}", user, password, "VERBOSE=OFF", "BANNER=OFF",
                                 "PROMPT=OFF", "ECHO=OFF", "ERRORS=STDERR", f"exec={sql}"],
                                capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if result.returncode != 0 or "*** Error" in result.stderr or "*** Error" in result.stdout:
            raise RuntimeError(f"isql: {(result.stderr or result.stdout).strip()[:2000]}")
        return result.stdout

    def bulk_load(self, path: Path, graph: str | None = None) -> None:
        """Load an RDF file with the bulk loader (ld_dir, rdf_loader_run, checkpoint).

        N-Quads keep their own graphs; triples (and quads that name none) go into `graph`, which
        formats without graphs (N-Triples, Turtle, ...) must be given. The file is hard-linked (or
        copied) into a fresh folder under workdir/load, so it may live anywhere and may be loaded again.
        """
        path = Path(path).resolve()
        quads = path.suffix in (".nq", ".trig") or path.name.endswith((".nq.gz", ".trig.gz"))
        if graph is None and not quads:
            raise ValueError(f"{path.name}: give the graph to load triples into")
        self.loads += 1
        folder = self.load_root / str(self.loads)
        folder.mkdir(parents=True)
        try:
            os.link(path, folder / path.name)
        except OSError:
            shutil.copyfile(path, folder / path.name)
        self.isql(f"ld_dir('{folder}', '{sql_string(path.name)}', '{sql_string(graph or NO_GRAPH)}');"
                  " rdf_loader_run(); checkpoint;")
        errors = self.isql(f"SELECT ll_file, ll_error FROM DB.DBA.load_list WHERE ll_file LIKE '{folder}/%'"
                           " AND (ll_error IS NOT NULL OR ll_state <> 2);")
        (folder / path.name).unlink()
        if errors.strip():
            raise RuntimeError(f"the bulk loader failed on {path}: {errors.strip()}")

    def graphs(self) -> list[str]:
        """The graphs that hold triples, Virtuoso's own system graphs left out."""
        out = self.isql("SPARQL SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } };")
        return sorted(g for g in (line.strip() for line in out.splitlines()) if g and not g.startswith(SYSTEM_GRAPH_PREFIXES))

    def clear(self) -> None:
        """Drop every graph but Virtuoso's own, and forget what the bulk loader loaded."""
        statements = [f"SPARQL CLEAR GRAPH <{g}>;" for g in self.graphs()]
        self.isql("log_enable(3, 1); " + " ".join(statements) + " DELETE FROM DB.DBA.load_list; checkpoint;")

    def disk_bytes(self) -> int:
        """Bytes of the database files (virtuoso.db, the temp db and the transaction logs)."""
        return sum(p.stat().st_size for p in self.workdir.glob("virtuoso*") if p.suffix in (".db", ".trx"))


def sql_string(value: str) -> str:
    """`value` for inside a single-quoted SQL string literal."""
    return value.replace("'", "''")


class OxigraphServer(Engine):
    """Oxigraph's server, read-only, on a store in `workdir`, with the union of the graphs as default graph."""

    auth = None
    graph_store_url = None

    def __init__(self, workdir: Path, union_default_graph: bool = True) -> None:
        super().__init__(workdir)
        self.union_default_graph = union_default_graph
        self.port = 0

    @property
    def sparql_url(self) -> str:  # type: ignore[override]
        """The SPARQL query endpoint."""
        return f"http://{LOCALHOST}:{self.port}/query"

    @property
    def location(self) -> Path:
        """The store's folder."""
        return self.workdir / "store"

    def binary(self) -> str:
        """The oxigraph executable; raises RuntimeError when it is missing."""
        binary = oxigraph_binary()
        if binary is None:
            raise RuntimeError("the oxigraph server is part of the test extra: pip install -e '.[test]'")
        return binary

    def bulk_load(self, path: Path, graph: str | None = None) -> None:
        """Load an RDF file into the store (only while the server is stopped: the read-only server holds it open)."""
        if self.pid is not None:
            raise RuntimeError("stop the read-only server before loading")
        self.workdir.mkdir(parents=True, exist_ok=True)
        command = [self.binary(), "load", "--location", str(self.location), "--file", str(path)]
        subprocess.run(command + (["--graph", graph] if graph else []), check=True, capture_output=True)

    def start(self) -> OxigraphServer:
        """Start `oxigraph serve-read-only` and wait until it answers; returns self."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        command = [self.binary(), "serve-read-only", "--location", str(self.location), "--bind", f"{LOCALHOST}:{self.port}"]
        self.launch(command + (["--union-default-graph"] if self.union_default_graph else []), self.sparql_url, 60)
        return self


def main() -> None:
    """Demo: load dist/autokg.nq into Virtuoso in a temporary folder and count the triples of each graph."""
    import tempfile

    nquads = Path(__file__).resolve().parent.parent / "dist" / "autokg.nq"
    with tempfile.TemporaryDirectory() as tmp, Virtuoso(Path(tmp)) as virtuoso:
        started = time.monotonic()
        virtuoso.bulk_load(nquads)
        print(f"loaded {nquads} in {time.monotonic() - started:.2f} s; {virtuoso.disk_bytes()} bytes on disk")
        print(virtuoso.isql("SPARQL SELECT ?g (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } } GROUP BY ?g ORDER BY ?g;"))
        print(f"pid {virtuoso.pid}, SPARQL at {virtuoso.sparql_url}")


if __name__ == "__main__":
    main()
