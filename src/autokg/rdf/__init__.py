"""RDF: reading files safely, canonical Turtle."""
