"""The seeded demo world and the two demo stories (in one process, and over HTTP).

Nothing in the platform imports this package: only the CLI (``civic up``, ``civic demo``) and
the tests do.
"""
