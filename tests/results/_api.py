"""The results API under test, in one place.

These names are meant to be re-exported from ``lmms_eval_client``; until they are, the
tests import them from their modules here (switch this file to ``from lmms_eval_client
import ...`` once they are).
"""

from lmms_eval_client import MissingDependencyError
from lmms_eval_client._file_access import (
    PATH_MAP_ENV,
    FileSystem,
    parse_path_map,
    resolve_server_path,
)
from lmms_eval_client._metrics import Metric
from lmms_eval_client._output_dirs import OUTPUT_ROOT_ENV, model_label, output_dir_for
from lmms_eval_client._result_files import (
    eval_log_server_path,
    eval_log_tail,
    job_result_files,
    load_job_results,
    output_dir_of_job,
    results_of_job,
)
from lmms_eval_client._results import EvalResults
from lmms_eval_client._results_errors import (
    MetricNotFoundError,
    ResultsError,
    ResultsFormatError,
    ResultsNotReachableError,
    ResultsUnavailableError,
    SamplesNotFoundError,
)
from lmms_eval_client._results_sections import (
    Efficiency,
    EfficiencyStats,
    EvaluationConfig,
    NSamples,
    TaskConfig,
    Throughput,
    TokenUsage,
    Usage,
)
from lmms_eval_client._samples import Sample, TokenCount, iter_samples

__all__ = [
    "OUTPUT_ROOT_ENV",
    "PATH_MAP_ENV",
    "Efficiency",
    "EfficiencyStats",
    "EvalResults",
    "EvaluationConfig",
    "FileSystem",
    "Metric",
    "MetricNotFoundError",
    "MissingDependencyError",
    "NSamples",
    "ResultsError",
    "ResultsFormatError",
    "ResultsNotReachableError",
    "ResultsUnavailableError",
    "Sample",
    "SamplesNotFoundError",
    "TaskConfig",
    "Throughput",
    "TokenCount",
    "TokenUsage",
    "Usage",
    "eval_log_server_path",
    "eval_log_tail",
    "iter_samples",
    "job_result_files",
    "load_job_results",
    "model_label",
    "output_dir_for",
    "output_dir_of_job",
    "parse_path_map",
    "resolve_server_path",
    "results_of_job",
]
