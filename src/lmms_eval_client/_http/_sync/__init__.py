"""What only the sync classes do differently (hand-written; its twin is ``_async/``)."""
