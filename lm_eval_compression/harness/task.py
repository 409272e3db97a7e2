"""The harness task class behind every compression task YAML.

A task reads its corpus (the Hugging Face dataset, or local JSON lines with ``metadata.data_dir``), reads and
checks its settings once (:class:`.task_settings.TaskSettings`) and sends each non-empty document as a
``loglikelihood_rolling`` request carrying them (:mod:`.requests`); :mod:`.hooks` routes those requests to
the scorer.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from lm_eval.api.instance import Instance

from ..engine.corpus import CorpusError, corpus_sha256
from ..engine.settings import WindowSettings, WindowSettingsError
from . import compat, hooks, metrics
from .context_curve import ContextCurve
from .dataset import checked_documents
from .groups import GroupTable, check_group_field
from .requests import RequestSettings, stream_fingerprint
from .signals import SignalSummary
from .task_settings import TaskSettings

hooks.install()

__all__ = ["CompressionTask", "CorpusError", "TaskSettings"]


@dataclass(frozen=True)
class CorpusFacts:
    """The documents a run evaluates, as the results file records them."""

    corpus: str
    corpus_sha256: str
    documents: int


class CompressionTask(compat.rolling_task_base()):
    """Bits per character of a corpus under strided sliding windows."""

    OUTPUT_TYPE = "loglikelihood_rolling"
    is_compression_task = True

    def __init__(self, config: dict | None = None, **kwargs):
        config = copy.deepcopy(dict(config or {}))
        config.pop("class", None)
        metadata = config.setdefault("metadata", {})
        self.settings = TaskSettings.from_metadata(metadata, config.get("task", "compression"))
        metadata.update(self.settings.metadata())
        config.setdefault("output_type", "loglikelihood_rolling")
        config.setdefault("test_split", "test")
        config.setdefault("doc_to_text", "")
        config.setdefault("doc_to_target", self.settings.text_field)
        config.setdefault("metric_list", compat.metric_list(copy.copy(metrics.METRIC_LIST)))
        config.setdefault("process_results", metrics.process_results)
        self.corpus_facts: CorpusFacts | None = None
        self.request_settings: RequestSettings | None = None
        self.model_windows: WindowSettings | None = None  # the settings as the model applied them
        self.model_identity: str | None = None  # set by the hooks before requests are built (cache key)
        self.scoring_runs: list[dict] = []
        self.context_curve = ContextCurve()
        self.signals = SignalSummary()
        self.group_table = GroupTable(self.settings.group_by) if self.settings.group_by else None
        self.data_file = None
        super().__init__(config=config, **kwargs)

    # ------------------------------------------------------------------ data
    def corpus_name(self) -> str:
        if self.data_file is not None:
            return str(self.data_file)
        name = (
            f"{self.config.dataset_path}:{self.config.dataset_name}"
            if self.config.dataset_name
            else str(self.config.dataset_path)
        )
        revision = (self.config.dataset_kwargs or {}).get("revision")
        return f"{name}@{revision}" if revision else name

    def local_file_name(self) -> str:
        """The file this task reads inside ``data_dir``."""
        default = f"{self.config.dataset_name or Path(str(self.config.dataset_path)).name}.jsonl"
        return self.settings.data_file or default

    def schema(self) -> str:
        fields = f"{self.settings.text_field!r}" + (" and 'category'" if self.settings.categories else "")
        return f"JSON lines in the schema of {self.config.dataset_path} (field {fields})"

    def download(self, dataset_kwargs=None, **kwargs) -> None:
        self.data_file = None
        if self.settings.data_dir:
            self.dataset = self._load_local()
        else:
            self._load_hub(dataset_kwargs, **kwargs)
        s = self.settings
        docs = checked_documents(
            self.dataset, self.config.test_split, s.text_field, s.categories, self.config.task, self.corpus_name()
        )
        if s.group_by:
            check_group_field(docs, s.group_by, self.config.task, self.corpus_name())
        self.dataset[self.config.test_split] = docs

    def _load_local(self):
        import datasets

        folder = Path(os.path.expanduser(self.settings.data_dir))
        path = folder / self.local_file_name()
        if not path.is_file():
            raise CorpusError(
                f"task {self.config.task}: data_dir is {str(folder)!r} but {path} does not exist "
                f"(expected {path.name} there: {self.schema()})"
            )
        self.data_file = path
        return datasets.load_dataset("json", data_files={self.config.test_split: str(path)})

    def _load_hub(self, dataset_kwargs, **kwargs) -> None:
        snapshot = self.settings.snapshot if self.settings.categories else None
        if snapshot:
            path, _, revision = snapshot.partition("@")
            self.DATASET_PATH = self.config.dataset_path = path
            if revision:
                dataset_kwargs = {**(dataset_kwargs or {}), "revision": revision}
                self.config.dataset_kwargs = dataset_kwargs
        try:
            super().download(dataset_kwargs, **kwargs)
        except Exception as error:  # the hub is unreachable, or the dataset is not there
            raise CorpusError(
                f"task {self.config.task}: could not load {self.corpus_name()} from the Hugging Face hub "
                f"({type(error).__name__}: {str(error)[:300]}). Offline, put {self.local_file_name()} "
                f'({self.schema()}) in a folder and pass it with --metadata \'{{"data_dir": "/path/to/folder"}}\''
            ) from error

    # -------------------------------------------------------------- requests
    def build_all_requests(self, *, limit=None, samples=None, rank=0, world_size=1, **kwargs) -> None:
        field = self.settings.text_field
        texts = [doc[field] for _, doc in self.doc_iterator(rank=0, world_size=1, limit=limit, samples=samples)]
        self.corpus_facts = CorpusFacts(self.corpus_name(), corpus_sha256(texts), len(texts))
        self.request_settings = self._request_settings(world_size)
        # Requests are cheap to build and carry the window settings, so never reuse a request cache
        # that may hold other settings.
        kwargs["cache_requests"] = False
        kwargs["rewrite_requests_cache"] = False
        super().build_all_requests(limit=limit, samples=samples, rank=rank, world_size=world_size, **kwargs)

    def _request_settings(self, world_size: int) -> RequestSettings:
        windows, facts, model = self.settings.windows, self.corpus_facts, self.model_identity
        min_k, records = self.settings.min_k, self.records_file(world_size)
        if windows.protocol != "paper":
            return RequestSettings(windows, self.settings.windows_in_flight, model=model, min_k=min_k, records=records)
        if world_size > 1:
            raise WindowSettingsError(
                f"task {self.config.task}: protocol=paper scores one token stream over all documents and "
                f"cannot be split across {world_size} data-parallel processes; use one process or protocol=document"
            )
        stream = stream_fingerprint(facts.corpus_sha256, windows)
        in_flight = self.settings.windows_in_flight
        return RequestSettings(windows, in_flight, stream, facts.documents, model, min_k, records)

    def records_file(self, world_size: int) -> str | None:
        """This task's per-token records file: named by the task and a key of its corpus, window settings and
        model (when known), so that runs of other settings never share it."""
        folder = self.settings.token_records
        if folder is None:
            return None
        if world_size > 1:
            raise WindowSettingsError(
                f"task {self.config.task}: token_records cannot be written by {world_size} data-parallel "
                "processes; use one process"
            )
        parts = [self.corpus_facts.corpus_sha256, json.dumps(self.settings.windows.as_set()), self.model_identity or ""]
        key = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
        return str(Path(os.path.expanduser(folder)).resolve() / f"{self.config.task}-{key}.parquet")

    def construct_requests(self, doc, ctx, **kwargs):
        kwargs.pop("apply_chat_template", None)
        kwargs.pop("chat_template", None)
        doc_id, placement = compat.request_placement(kwargs, self.config.task, self.config.repeats)
        settings = self.request_settings or RequestSettings(
            self.settings.windows, self.settings.windows_in_flight, min_k=self.settings.min_k
        )
        position = doc_id if settings.stream is not None else None
        return Instance(
            request_type="loglikelihood_rolling",
            doc=doc,
            arguments=compat.rolling_args(self.doc_to_target(doc), settings.to_args(position)),
            idx=0,
            **placement,
        )

    # --------------------------------------------------------------- results
    def process_results(self, doc, results):
        (resp,) = results
        run = getattr(resp, "run", None)
        if run is not None and not any(r is run for r in self.scoring_runs):
            self.scoring_runs.append(run)
        seen = self.settings.windows.for_model(
            resp.get("window_bos"), resp.get("window_bos_reason"), resp.get("prefix_token_id"), resp.get("prefix_token")
        )
        if self.model_windows is None:
            self.model_windows = seen
        elif seen != self.model_windows:
            raise RuntimeError(
                f"task {self.config.task}: documents were scored with different settings: "
                f"{self.model_windows.model_facts()} vs {seen.model_facts()}"
            )
        self.context_curve.add(resp)
        self.signals.add(resp)
        if self.group_table is not None:
            self.group_table.add(doc, resp)
        return metrics.process_results(doc, results)

    def dump_config(self) -> dict:
        config = super().dump_config()
        summary = (self.model_windows or self.settings.windows).summary()
        if self.corpus_facts is not None:
            summary.update(vars(self.corpus_facts))
        summary["context_length"] = self.context_curve.summary(summary["block_size"])
        summary["membership"] = self.signals.summary()
        if self.group_table is not None and self.group_table.rows:
            summary["by_group"] = self.group_table.summary()
        if self.scoring_runs:
            summary["run"] = self.scoring_runs[0] if len(self.scoring_runs) == 1 else self.scoring_runs
        config["compression"] = summary
        return config
