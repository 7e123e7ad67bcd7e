"""Thin servicers: call context -> domain call -> proto."""
