"""Stores: the embedded Oxigraph store, a remote endpoint as the store, the SPARQL client, push."""
