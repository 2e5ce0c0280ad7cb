"""HTTP verify benchmark: presentations verified per second over HTTP, civicstack vs ACA-Py.

The benchmark itself is bench/_http_verify.py (its docstring says what is measured and how);
the civicstack side is ``measure_civicstack_http`` there. This file is only its entry point,
named as issue 3 names it.

Usage: ``.venv/bin/python bench/http.py [--seconds 20] [--concurrency 16] [--quick]
[--peer acapy|none] [--alg ES256|EdDSA]``.

A file called ``http.py`` in bench/ is found as the standard library's ``http`` package by
every script run as ``python bench/<name>.py`` (the script's folder leads ``sys.path``), the
moment anything it imports needs ``http.client`` (httpx, urllib...). So when this file is
imported under that name it loads the real package in its own place and does nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __name__ == "http":
    import importlib.machinery
    import importlib.util
    import sysconfig

    _spec = importlib.machinery.PathFinder.find_spec("http", [sysconfig.get_path("stdlib")])
    if _spec is None or _spec.loader is None:
        raise ImportError("the standard library's http package was not found")
    _real = importlib.util.module_from_spec(_spec)
    # The import system returns whatever sys.modules holds once this module has run.
    sys.modules["http"] = _real
    _spec.loader.exec_module(_real)
elif __name__ == "__main__":
    # Run as a script: import the benchmark from the repository root, not from bench/.
    _here = Path(__file__).resolve().parent
    if sys.path and Path(sys.path[0] or ".").resolve() == _here:
        sys.path[0] = str(_here.parent)
    from bench._http_verify import main

    sys.exit(main())
