"""Wikidata: our facts in its model, and the diff and link candidates against it."""
