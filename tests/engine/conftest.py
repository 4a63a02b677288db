"""Fixtures of the executor's tests."""

from __future__ import annotations

import pyoxigraph as ox
import pytest


@pytest.fixture
def store(files):
    """A memory store holding the built dataset (dist/autokg.nq)."""
    store = ox.Store()
    store.bulk_load(path=str(files.root / "dist" / "autokg.nq"), format=ox.RdfFormat.N_QUADS)
    return store
