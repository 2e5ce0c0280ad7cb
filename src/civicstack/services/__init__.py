"""Application services: each owns its use cases and their rules.

A service decides through the pure core (``credentials``, ``openid4vci``, ``openid4vp``,
``trust``, ``log``, ``registers``) and keeps its state through the stores it is given; it never
speaks HTTP or renders a page (those are the adapters ``api``, ``cli`` and ``web``).
"""
