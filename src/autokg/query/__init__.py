"""Queries: the catalogue, the guards a query passes, running and rendering, and reading entities."""
