"""Helpers that tests import: servers started and waited for, clients, agreement between engines, pages."""
