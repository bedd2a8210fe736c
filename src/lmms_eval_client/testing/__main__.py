"""``python -m lmms_eval_client.testing`` / ``lmms-eval-local-server``: serve until stopped."""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from ._config import (
    DEFAULT_JOB_DURATION,
    DEFAULT_MAX_COMPLETED_JOBS,
    DEFAULT_MODELS,
    DEFAULT_TASKS,
    DEFAULT_TEMP_DIR_PREFIX,
    OUTCOMES,
    LocalServerConfig,
)


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"must be in 0..65535, got {port}")
    return port


def _host(text: str) -> str:
    if not text.strip():  # uvicorn would listen on every interface
        raise argparse.ArgumentTypeError("an address to listen on, e.g. 127.0.0.1")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command line of the local server."""
    parser = argparse.ArgumentParser(
        prog="lmms-eval-local-server",
        description=(
            "A local lmms-eval-compatible HTTP server with simulated evaluations "
            "(lmms_eval_client.testing). Stop it with Ctrl+C or SIGTERM."
        ),
    )
    parser.add_argument(
        "--host", type=_host, default="127.0.0.1", help="address (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--job-duration",
        type=float,
        default=DEFAULT_JOB_DURATION,
        help=f"seconds a simulated evaluation runs (default: {DEFAULT_JOB_DURATION})",
    )
    parser.add_argument(
        "--outcome",
        choices=OUTCOMES,
        default="complete",
        help="how jobs end unless model_args say otherwise (default: complete)",
    )
    parser.add_argument(
        "--max-completed-jobs",
        type=int,
        default=DEFAULT_MAX_COMPLETED_JOBS,
        help=f"finished jobs kept in memory (default: {DEFAULT_MAX_COMPLETED_JOBS})",
    )
    parser.add_argument(
        "--temp-dir-prefix",
        default=DEFAULT_TEMP_DIR_PREFIX,
        help=f"prefix of jobs' temporary output dirs (default: {DEFAULT_TEMP_DIR_PREFIX})",
    )
    parser.add_argument(
        "--tasks",
        type=_names,
        help="comma-separated task names or patterns (mmmu_*) to offer "
        "(default: every task of lmms-eval 0.7.3)",
    )
    parser.add_argument(
        "--models",
        type=_names,
        help="comma-separated model names or patterns to offer "
        "(default: every model of lmms-eval 0.7.3)",
    )
    parser.add_argument(
        "--no-validate-names",
        dest="validate_names",
        action="store_false",
        help="accept any task and model name",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["critical", "error", "warning", "info", "debug", "trace"],
        help="uvicorn's log level (default: info)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line and serve until interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = LocalServerConfig(
            job_duration=args.job_duration,
            outcome=args.outcome,
            max_completed_jobs=args.max_completed_jobs,
            temp_dir_prefix=args.temp_dir_prefix,
            validate_names=args.validate_names,
            tasks=DEFAULT_TASKS if args.tasks is None else args.tasks,
            models=DEFAULT_MODELS if args.models is None else args.models,
        )
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))

    import uvicorn

    from ._app import create_app

    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
