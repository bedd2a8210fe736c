"""Results: reading what lmms-eval wrote for a job (files, not HTTP).

``results`` (``EvalResults``), ``sections``, ``metrics`` and ``samples`` are the typed models
of a results file; ``files`` finds a job's results files, ``eval_log`` its log;
``file_access`` maps a server path to where this machine reads it (``path_map``,
``filesystem``); ``output_dirs`` gives each job a unique folder under a client-chosen root;
``errors`` holds the results errors.
"""
