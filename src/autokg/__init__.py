"""autokg: a linked-data graph of automotive-industry relationships, its validation and its SPARQL service."""

__version__ = "0.1.0"
