"""Where the tests' own files are, and the checkout they test."""

from pathlib import Path

#: the tests folder: fixtures, golden files, shape examples
TESTS = Path(__file__).resolve().parents[1]
#: the checkout
ROOT = TESTS.parent
