"""The pool: several servers behind the client's methods.

``routing`` picks a server for a job (a pure function, no I/O); ``status`` holds the pool's
typed views of its servers; ``config`` its settings; ``errors`` its errors. ``_async/`` holds
the hand-written ``AsyncEvalPool``, its servers and its result reading; ``_sync/`` is
generated from it, but ``_io.py``, written by hand on both sides (asking servers at once or
one after the other).
"""
