"""Execution service: runs an installed plugin in the sandbox and records every run.

Placeholder filled in by the sandbox work (issue 3). The REST handlers and the CLI call exactly
these coroutine/methods; keep their signatures.
"""
