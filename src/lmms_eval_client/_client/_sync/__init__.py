"""The sync client classes, generated from ``../_async/`` by ``codegen/make_sync.py``."""
