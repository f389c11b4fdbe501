"""Adapters that run MuLan inside the harnesses researchers measure audio models with (HEAR's `hear.py` API)."""
