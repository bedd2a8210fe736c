"""Evaluation runs: many labelled jobs tracked in a ledger, harvested as outcomes.

``ledger`` and ``ledger_schema`` are the SQLite ledger (append-only history, migrations);
``outcomes`` the outcome types; ``options`` the settings of a run and their defaults;
``errors`` the run errors. ``_async/`` holds the hand-written ``AsyncEvalRun`` and its
poller; ``_sync/`` is generated from it.
"""
