"""The hand-written source of the client classes: ``../_sync/`` is generated from it."""
