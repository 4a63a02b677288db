"""The web face: the Flask app, its middleware, the SPARQL protocol, pages and their templates."""
