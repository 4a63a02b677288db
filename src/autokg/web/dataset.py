"""The dataset a server process answers from: the built store, loaded once and shared with every worker."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox

from autokg import __version__
from autokg.build.artefacts import build
from autokg.config import ProjectFiles
from autokg.engine.executor import Executor
from autokg.stores.backend import PART_IRIS, BackendError, RemoteStore, connect_backend, graph_counts
from autokg.stores.embedded import PART_GRAPHS, ProcessLocalStore, current_store, inputs_digest

COUNT = "SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }"


@dataclass
class ServedDataset:
    """The store, the executor that runs queries on it, and what /health reports."""

    store: ox.Store | ProcessLocalStore | RemoteStore
    executor: Executor
    triples: int
    version: str
    mode: str
    loaded_at: float = field(default_factory=time.time)

    @property
    def graphs(self) -> dict[str, str]:
        """Part name -> named-graph IRI."""
        return {part: node.value for part, node in PART_GRAPHS.items()}


def load_served_dataset(files: ProjectFiles, slots: int, mode: str = "memory", nquads: str = "",
                        limits: Mapping[str, Any] | None = None) -> ServedDataset:
    """Load the built dataset (building it first if the inputs changed), or the N-Quads file `nquads`.

    "memory" loads the N-Quads into an in-memory store: forked workers share its pages, and scans are
    several times faster than on disk. "disk" opens the persisted store read-only. At most `slots` queries
    are evaluated at once; `limits` are the executor's other bounds (queue, threads, memory).
    """
    limits = limits or {}
    if nquads:
        store = ox.Store()
        store.bulk_load(path=nquads, format=ox.RdfFormat.N_QUADS)
        count = len(store)
        return ServedDataset(store=store, executor=Executor(store, slots, **limits), triples=count, version=f"{__version__}+file", mode="memory")
    if current_store(files) is None:
        build(files)
    if mode == "memory":
        store = ox.Store()
        store.bulk_load(path=str(files.dist / "autokg.nq"), format=ox.RdfFormat.N_QUADS)
        count = next(iter(store.query(COUNT)))["n"].value
    else:
        store = ProcessLocalStore(files)
        count = next(iter(store.query(COUNT)))["n"].value
        store.close()  # no handle may cross the fork to the workers
    version = f"{__version__}+{inputs_digest(files)[:12]}"
    return ServedDataset(store=store, executor=Executor(store, slots, **limits), triples=int(count), version=version, mode=mode)


def backend_dataset(endpoint: str, timeout: float, max_bytes: int, slots: int,
                    extra_graphs: tuple[str, ...] = (), limits: Mapping[str, Any] | None = None) -> ServedDataset:
    """The dataset held by a remote SPARQL endpoint; raises BackendError when it is down or holds no part graph.

    `extra_graphs` join the part graphs in the default graph and in the named graphs.
    """
    store = connect_backend(endpoint, timeout, max_bytes, extra_graphs)
    counts = graph_counts(store)
    if not any(counts[graph] for graph in PART_IRIS):
        raise BackendError(f"The backend store {endpoint} holds none of autokg's graphs ({', '.join(PART_IRIS)}): "
                           "load them with `autokg push --to <its Graph Store URL>`")
    return ServedDataset(store=store, executor=Executor(store, slots, **(limits or {})), triples=sum(counts.values()), version=f"{__version__}+backend", mode="backend")
