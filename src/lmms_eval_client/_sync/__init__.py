"""The sync client classes: generated from ``_async/`` by ``codegen/make_sync.py``, but
``_io.py``, which holds what only the sync classes do."""
