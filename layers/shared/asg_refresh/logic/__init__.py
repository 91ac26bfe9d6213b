"""Decisions. Pure where possible; AWS is reached only through the ports passed in (dal/ports.py)."""
