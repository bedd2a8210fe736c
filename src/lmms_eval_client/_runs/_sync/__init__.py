"""The sync run classes, generated from ``../_async/`` by ``codegen/make_sync.py``."""
