"""HTTP adapters: one FastAPI router (or sub-application) per service, composed in :mod:`.app`."""
