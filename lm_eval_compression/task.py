"""The task class under the path that task YAML files name: ``!function lm_eval_compression.task.CompressionTask``.

It lives in :mod:`lm_eval_compression.harness.task`; this module keeps the public path of user YAML files.
"""

from .harness.task import CompressionTask, CorpusError

__all__ = ["CompressionTask", "CorpusError"]
