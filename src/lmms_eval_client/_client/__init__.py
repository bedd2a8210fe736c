"""The client: ``EvalClient`` and ``AsyncEvalClient`` over one server.

``arguments`` checks what a user passes before anything is sent; ``evaluate_params`` is the
one table of a submission's parameters (``codegen/evaluate_params.py`` writes them into the
signatures); ``wait`` holds the deadline and terminal-state rules of waiting for jobs (no
I/O); ``reconcile`` decides whether a submission whose answer was lost created a job;
``base`` is what both classes share.
``_async/`` is the hand-written source of the client classes; ``_sync/`` is generated from
it (``make generate``).
"""
