"""A local lmms-eval-compatible server for tests and demos.

Install with ``pip install lmms-eval-client[testing]`` (FastAPI and uvicorn).

It speaks lmms-eval 0.7.3's HTTP API (the operations, bodies, status codes and messages of
``lmms_eval/entrypoints/http_server.py``, with the same queue semantics), starts in
milliseconds and needs no GPU and no ML stack: evaluations are simulated, so jobs also
*complete*, writing result files shaped like lmms-eval's.

Ways to run it:

* ``lmms-eval-local-server --port 8000`` (or ``python -m lmms_eval_client.testing``);
* :class:`LocalServer`: uvicorn on a free loopback port in a background thread, for the
  sync ``EvalClient`` (or anything speaking HTTP);
* :func:`asgi_client`: in process, an ``httpx.AsyncClient`` over ``httpx.ASGITransport``
  for ``AsyncEvalClient(http_client=...)``;
* the pytest plugin ``lmms_eval_client.testing.pytest_plugin`` (fixtures
  ``lmms_eval_server``, ``lmms_eval_client``, ``async_lmms_eval_client``);
* :func:`create_app`: the ASGI app itself.

Queue semantics (as the real server)
------------------------------------
One worker runs the jobs one at a time, in submission order. ``POST /evaluate`` answers
``position_in_queue`` = jobs waiting in the queue at that moment (a lone job gets 0 and is
picked up at once). ``GET /jobs/{id}`` recomputes it for queued jobs only (queued jobs
created earlier); other jobs keep their last value. Only queued jobs can be cancelled;
a cancelled job stays in the asyncio queue (counted by ``/health.queue_size``, not by
``/queue.queue_size``) until the worker skips it. After each job ends, finished jobs
beyond ``max_completed_jobs`` are dropped, oldest ``completed_at`` first; a later GET is
a 404. ``POST /merge`` always answers 500 ``lmms_engine not available: ...``, as the
real server without the separate lmms_engine package.

Simulated evaluation
--------------------
A job's evaluation (once past the ``job_gate``, if any) sleeps for its duration
(``LocalServerConfig.job_duration``, default 1.0 s), then ends with its outcome
(``LocalServerConfig.outcome``, default ``"complete"``). A request overrides them
through its ``model_args`` (the job's echoed ``request`` keeps these keys; what
lmms-eval would see of model_args, which names the result folder and is recorded in
``config.model_args``, leaves them out):

* ``sim_duration``: seconds (number or numeric string, >= 0);
* ``sim_outcome``: ``"complete"``; ``"fail"``, an error inside lmms-eval, which exits
  with status 0, so the job fails with the real server's ``Evaluation produced no
  parsed results. Last lines of <log>:`` and the log's tail; ``"crash"``, a non-zero
  exit: ``Evaluation failed with return code 1. Last lines of <log>:`` and the tail;
* ``sim_error``: the error text in that log tail (giving it implies ``"fail"`` unless
  ``sim_outcome`` says otherwise).

An invalid ``sim_*`` value fails the job with a message naming it. As lmms-eval, a
run also fails (the "no parsed results" way) when a task or the model is not in
``LocalServerConfig.tasks``/``models`` (unless ``validate_names=False``; ``*``
wildcards match task names), when a group cannot be loaded, or when ``limit`` is
negative other than -1.

Tasks and models (the real registries)
--------------------------------------
By default the server knows what the pinned lmms-eval knows: every task name (groups,
subtasks, tags) and model name of lmms-eval 0.7.3, shipped as data (``registry.json``,
generated from the installed package by ``codegen/build_registry.py``). A group runs as
lmms-eval runs it: its subtasks (nested groups and tags expanded) each get results, an
alias ``" - name"`` and a samples file; the group gets its own entry (its pooled metric
when its YAML aggregates, then also under ``groups``) and ``group_subtasks`` lists its
members. A tag stands for its tasks. Models accept lmms-eval's aliases
(``openai_compatible``).

Holding jobs
------------
``LocalServerConfig(job_gate=JobGate())``: every job waits at the gate, ``running``,
until ``gate.release()``; ``gate.wait_until_held()`` (``await gate.until_held()`` in the
server's own event loop) returns once a job is there. Tests see queued and running states
without depending on timing.

A completed run writes, in the request's ``output_dir`` (else a fresh
``<temp_dir_prefix>*`` temporary directory, never deleted, as the real server):

* ``eval-<YYYYMMDD-HHMMSS>.log``, the evaluation log;
* ``<model name>/<YYYYMMDD_HHMMSS>_results.json``, key for key as lmms-eval's:
  ``results.<task>`` with ``alias``, ``"exact_match,none"`` and its stderrs
  (``_stderr``, ``_stderr_clt``, ``_stderr_clustered``, which is ``"N/A"``;
  ``"bypass,none": 999`` with ``"N/A"`` stderrs with predict_only), plus ``groups``,
  ``group_subtasks``, ``configs``, ``versions``, ``n-shot``, ``higher_is_better``,
  ``n-samples``, ``config`` (with ``resolved_cli_args``; secret-looking values,
  ``api_key=...``, ``*_token=...``, masked as lmms-eval does), ``throughput`` (for
  backends that log it), ``usage`` (token counts for API backends such as ``openai``,
  else ``{}``), ``efficiency`` (with log_samples), ``date``, ``task_hashes``,
  ``model_name``, timings (``total_evaluation_time_seconds`` a string)...;
* with log_samples (forced by predict_only), ``<timestamp>_samples_<task>.jsonl``, one
  line per document (appended to, as lmms-eval, if the file exists).

Scores are deterministic: a task has ``docs_per_task`` documents (default 10-100, fixed
per task name), ``limit`` applies as in lmms-eval, and which documents are answered
correctly derives from a hash of (request.model, model name, task).

The ``<model name>`` is what lmms-eval derives from model_args, not ``request.model``:
the value of the first of ``peft=``, ``delta=``, ``pretrained=``, ``model=``,
``model_version=``, ``model_name=``, ``model_id=``, ``path=``, ``engine=`` found in
``k=v,k=v`` (substring match, so ``base_model=`` counts as ``model=``), its last two path
parts kept and ``/`` (and ``"<>:|\\?*[]``) replaced by ``__``: ``Qwen/Qwen2-VL-7B`` ->
``Qwen__Qwen2-VL-7B``. The timestamp is in ``results_timezone`` (lmms-eval's default:
Asia/Singapore). The job's ``result`` is then what the real server reads back:
``{<folder>: {"results": <path>, "samples": [<paths>]}}`` for every sub-folder of
output_dir (latest timestamp each). Without such a key in model_args the files land in
output_dir itself, which the server does not search: the job fails with "Evaluation
produced no parsed results...", as on the real server.
"""

try:
    import fastapi  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as _missing:  # pragma: no cover - depends on the installation
    raise ImportError(
        "lmms_eval_client.testing needs FastAPI and uvicorn: "
        "pip install 'lmms-eval-client[testing]'"
    ) from _missing

from .._results.naming import model_name_from_args, sanitize_model_name
from ._app import create_app
from ._asgi import LifespanError, asgi_client, running_lifespan
from ._config import LMMS_EVAL_TIMEZONE, SIM_DURATION, SIM_ERROR, SIM_OUTCOME, LocalServerConfig
from ._gate import JobGate
from ._naming import results_folder
from ._server import LocalServer

__all__ = [
    "LMMS_EVAL_TIMEZONE",
    "SIM_DURATION",
    "SIM_ERROR",
    "SIM_OUTCOME",
    "JobGate",
    "LifespanError",
    "LocalServer",
    "LocalServerConfig",
    "asgi_client",
    "create_app",
    "model_name_from_args",
    "results_folder",
    "running_lifespan",
    "sanitize_model_name",
]
