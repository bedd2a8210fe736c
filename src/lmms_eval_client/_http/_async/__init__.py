"""What only the async classes do differently (hand-written; its twin is ``_sync/``)."""
