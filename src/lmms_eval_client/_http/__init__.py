"""HTTP core: what every request goes through, whoever sends it.

Settings and their checks (``config``), the bounded sender that caps a response body and
gives a request one time budget (``transport``, ``limits``), the retry decision and its
backoff (``retry``), what an answer means (``responses``) and the generated endpoint
functions the facade calls (``operations``). ``_async/_io.py`` and ``_sync/_io.py`` hold,
by hand, the little that differs between the two kinds of client: sleeping, following an
event loop, closing.
"""
