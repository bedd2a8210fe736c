"""The hand-written source of the pool classes: ``../_sync/`` is generated from it."""
