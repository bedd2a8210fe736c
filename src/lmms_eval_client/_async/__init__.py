"""The hand-written source of every client class: ``_sync/`` is generated from it (unasync)."""
