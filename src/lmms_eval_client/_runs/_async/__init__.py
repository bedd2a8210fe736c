"""The hand-written source of the run classes: ``../_sync/`` is generated from it."""
