"""The persisted Oxigraph store: content-addressed, built aside and swapped in, opened read-only."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Generic, TypeVar

import pyoxigraph as ox

from autokg import __version__
from autokg.config import ProjectFiles
from autokg.errors import AutokgError

GRAPH_NS = "https://w3id.org/autokg/graph/"
#: the named graph of each part of the dataset; the default graph is their union
PART_GRAPHS = {part: ox.NamedNode(GRAPH_NS + part) for part in ("ontology", "data", "shortcuts")}
T = TypeVar("T")


def input_files(files: ProjectFiles) -> list[Path]:
    """The files whose content decides what the store holds."""
    return files.ontology + files.vocabularies + files.alignment + files.data


def inputs_digest(files: ProjectFiles) -> str:
    """A SHA-256 over the inputs' paths and bytes, autokg's version and the build code itself."""
    digest = hashlib.sha256(f"autokg {__version__}\n".encode())
    code = Path(__file__).parents[1]
    for path in input_files(files) + [code / "build" / "artefacts.py", code / "build" / "shortcuts.py", code / "stores" / "embedded.py"]:
        digest.update(str(path.relative_to(files.root) if path.is_relative_to(files.root) else path.name).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def store_link(files: ProjectFiles) -> Path:
    """dist/store: a symlink to the store directory built from the current inputs."""
    return files.dist / "store"


def current_store(files: ProjectFiles) -> Path | None:
    """The built store directory when it matches the inputs, else None."""
    link = store_link(files)
    wanted = f"store-{inputs_digest(files)[:16]}"
    if link.is_symlink() and os.readlink(link) == wanted and (link.parent / wanted).is_dir():
        return link.parent / wanted
    return None


def write_store(files: ProjectFiles, nquads: Path) -> Path:
    """Bulk-load `nquads` into a new store beside dist/store, then swap the link in one rename.

    Readers never see a half-built store: they open either the old directory or the new one.
    """
    dist = store_link(files).parent
    name = f"store-{inputs_digest(files)[:16]}"
    building = Path(tempfile.mkdtemp(prefix=".store-building-", dir=dist))
    try:
        store = ox.Store(str(building))
        store.bulk_load(path=str(nquads), format=ox.RdfFormat.N_QUADS)
        store.optimize()
        store.flush()
        del store
        final = dist / name
        try:
            building.rename(final)
        except OSError:
            # another build of the same inputs finished first; its store is complete, so keep it
            if not final.is_dir():
                raise
            shutil.rmtree(building, ignore_errors=True)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    temporary_link = dist / f".store-link-{os.getpid()}"
    if temporary_link.is_symlink():
        temporary_link.unlink()
    temporary_link.symlink_to(name)
    temporary_link.replace(store_link(files))
    for old in dist.glob("store-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def open_store(files: ProjectFiles) -> ox.Store:
    """Open the built store read-only.

    Raises AutokgError when there is no store, or when it was built from other inputs: run `autokg build`.
    """
    path = current_store(files)
    if path is None:
        raise AutokgError("No store built from the current data: run `autokg build` (or `make build`)")
    return ox.Store.read_only(str(path))


class PerProcess(Generic[T]):
    """A value that belongs to one process: a process forked since it was made gets a fresh one from `make`.

    What a process holds (a store handle, the query slots it has taken) is no use to a forked copy.

    >>> held = PerProcess(set)
    >>> held.get().add(3)
    >>> held.get()
    {3}
    """

    def __init__(self, make: Callable[[], T]) -> None:
        self.make = make
        self.pid = -1
        self.value: T | None = None

    def get(self) -> T:
        """This process's value, made on its first use here; raises what `make` raises."""
        if self.pid != os.getpid() or self.value is None:
            self.value, self.pid = self.make(), os.getpid()
        return self.value

    def drop(self) -> None:
        """Forget this process's value (the next use makes a new one)."""
        self.value = None


class ProcessLocalStore:
    """The built on-disk store, opened read-only once in each process that queries it.

    RocksDB handles do not survive a fork: a handle inherited from the serving master crashes its worker
    when it is used or freed there. So no handle is opened before the fork, and each process opens its own.
    """

    def __init__(self, files: ProjectFiles) -> None:
        self.files = files
        self.handle = PerProcess(lambda: open_store(files))

    def current(self) -> ox.Store:
        """This process's handle, opened on first use; raises AutokgError as open_store does."""
        return self.handle.get()

    def close(self) -> None:
        """Drop this process's handle (the next use opens a new one)."""
        self.handle.drop()

    def query(self, *args: object, **kwargs: object) -> object:
        """Store.query on this process's handle."""
        return self.current().query(*args, **kwargs)

    def quads_for_pattern(self, *args: object) -> object:
        """Store.quads_for_pattern on this process's handle."""
        return self.current().quads_for_pattern(*args)
