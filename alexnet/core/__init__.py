"""Helpers every stage uses: the user-facing error type and atomic outputs."""
