"""Validation: SHACL and the checks beyond it, and the reports CI reads."""
