"""A run's ledger in a PostgreSQL database: the store many trainers on many machines share.

``postgresql://user:password@host:5432/db?schema=NAME``: each run is a schema of the
database (created if missing; ``NAME`` defaults to ``lmms_eval``), with the tables, rules
and schema versions of the SQLite ledger (``store``, ``schema``). The driver is psycopg 3
(the ``postgres`` extra), imported only when such a URL is opened.
"""
