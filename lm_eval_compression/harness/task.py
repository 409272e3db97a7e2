"""The harness task class behind every compression task YAML.

A task reads its corpus (the Hugging Face dataset, or local JSON lines with
``metadata.data_dir``), validates the window settings in ``metadata`` and sends
each non-empty document as a ``loglikelihood_rolling`` request carrying those
settings; :mod:`.hooks` routes them to the scorer.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

from lm_eval.api.instance import Instance

from ..engine.windows import WindowSettingsError, check_settings
from . import compat, hooks, metrics, requests

hooks.install()

DEFAULTS = {"block_size": 1900, "stride": 512, "protocol": "document", "window_bos": "auto", "text_field": "content"}


class CorpusError(ValueError):
    """The corpus cannot be evaluated; the message names the file or document."""


def article(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def parse_window_bos(value, where: str):
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("auto",):
        return "auto"
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off"):
        return False
    raise WindowSettingsError(f"window_bos must be auto, true or false, got {value!r} ({where})")


def read_settings(metadata: dict, task: str) -> dict:
    """Effective window settings of a task from its metadata (YAML < --model_args < --metadata)."""
    meta = {**DEFAULTS, **{k: v for k, v in (metadata or {}).items() if v is not None}}
    where = f"task {task}"
    block_size, stride, protocol = check_settings(meta["block_size"], meta["stride"], meta["protocol"], where=where)
    window_bos = parse_window_bos(meta["window_bos"], where)
    if protocol == "paper" and window_bos is True:
        raise WindowSettingsError(
            f"window_bos=true has no meaning for protocol=paper, which reproduces the reference windows ({where})"
        )
    settings = {
        "block_size": block_size,
        "stride": stride,
        "protocol": protocol,
        "window_bos": window_bos,
        "text_field": str(meta["text_field"]),
    }
    if meta.get("windows_in_flight") is not None:
        settings["windows_in_flight"] = parse_windows_in_flight(meta["windows_in_flight"], where)
    return settings


def parse_windows_in_flight(value, where: str) -> int:
    """Windows per call to the vLLM engine (``--model vllm`` only): a positive integer."""
    if isinstance(value, bool) or not str(value).strip().isdigit() or int(value) < 1:
        raise WindowSettingsError(f"windows_in_flight must be a positive integer, got {value!r} ({where})")
    return int(value)


class CompressionTask(compat.rolling_task_base()):
    """Bits per character of a corpus under strided sliding windows."""

    OUTPUT_TYPE = "loglikelihood_rolling"
    is_compression_task = True

    def __init__(self, config: dict | None = None, **kwargs):
        config = copy.deepcopy(dict(config or {}))
        config.pop("class", None)
        task = config.get("task", "compression")
        metadata = config.setdefault("metadata", {})
        self.settings = read_settings(metadata, task)
        metadata.update(self.settings)
        config.setdefault("output_type", "loglikelihood_rolling")
        config.setdefault("test_split", "test")
        config.setdefault("doc_to_text", "")
        config.setdefault("doc_to_target", self.settings["text_field"])
        config.setdefault("metric_list", compat.metric_list(copy.copy(metrics.METRIC_LIST)))
        config.setdefault("process_results", metrics.process_results)
        self._run = {}
        self._scoring_runs = []
        self._stream = None
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
        meta = self.config.metadata or {}
        return meta.get("data_file") or f"{self.config.dataset_name or Path(str(self.config.dataset_path)).name}.jsonl"

    def schema(self) -> str:
        fields = f"{self.settings['text_field']!r}" + (
            " and 'category'" if (self.config.metadata or {}).get("categories") else ""
        )
        return f"JSON lines in the schema of {self.config.dataset_path} (field {fields})"

    def download(self, dataset_kwargs=None, **kwargs) -> None:
        import datasets

        meta = self.config.metadata or {}
        data_dir = meta.get("data_dir")
        self.data_file = None
        if data_dir:
            folder = Path(os.path.expanduser(str(data_dir)))
            path = folder / self.local_file_name()
            if not path.is_file():
                raise CorpusError(
                    f"task {self.config.task}: data_dir is {str(folder)!r} but {path} does not exist "
                    f"(expected {path.name} there: {self.schema()})"
                )
            self.data_file = path
            self.dataset = datasets.load_dataset("json", data_files={self.config.test_split: str(path)})
        else:
            snapshot = meta.get("snapshot") if meta.get("categories") else None
            if snapshot:
                path, _, revision = str(snapshot).partition("@")
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
        self.dataset = self._check_corpus(self.dataset)

    def _check_corpus(self, dataset):
        field = self.settings["text_field"]
        where = str(self.data_file) if self.data_file else self.corpus_name()
        split = self.config.test_split
        if split not in dataset:
            raise CorpusError(f"task {self.config.task}: {where} has no split {split!r} (has {list(dataset)})")
        docs = dataset[split]
        if field not in docs.column_names:
            raise CorpusError(
                f"task {self.config.task}: {where} has no field {field!r} (fields: {docs.column_names}); "
                "set metadata.text_field to the field that holds the text"
            )
        categories = (self.config.metadata or {}).get("categories")
        if categories:
            docs = self._select_categories(docs, categories, where)
        texts = docs[field]
        for i, text in enumerate(texts):
            if text is not None and not isinstance(text, str):
                raise CorpusError(
                    f"task {self.config.task}: document {i} of {where} has {article(type(text).__name__)} "
                    f"in {field!r}, not text"
                )
        keep = [i for i, t in enumerate(texts) if t]
        if not keep:
            raise CorpusError(f"task {self.config.task}: {where} has no non-empty documents in {field!r}")
        if len(keep) < len(texts):
            docs = docs.select(keep)
        dataset[split] = docs
        return dataset

    def _select_categories(self, docs, categories, where):
        """Keep the documents whose ``category`` is one of ``categories`` (the Uncheatable Eval layout)."""
        if isinstance(categories, str):
            categories = [c.strip() for c in categories.split(",") if c.strip()]
        if "category" not in docs.column_names:
            raise CorpusError(f"task {self.config.task}: {where} has no field 'category' to select {categories} from")
        present = docs["category"]
        keep = [i for i, c in enumerate(present) if c in set(categories)]
        if not keep:
            raise CorpusError(
                f"task {self.config.task}: {where} has no documents of categories {categories} "
                f"(it has {sorted(set(present))})"
            )
        return docs.select(keep)

    # -------------------------------------------------------------- requests
    def build_all_requests(self, *, limit=None, samples=None, rank=0, world_size=1, **kwargs) -> None:
        field = self.settings["text_field"]
        texts = [doc[field] for _, doc in self.doc_iterator(rank=0, world_size=1, limit=limit, samples=samples)]
        self._run = {
            "corpus": self.corpus_name(),
            "corpus_sha256": requests.corpus_sha256(texts),
            "documents": len(texts),
        }
        if self.settings["protocol"] == "paper":
            if world_size > 1:
                raise WindowSettingsError(
                    f"task {self.config.task}: protocol=paper scores one token stream over all documents and "
                    f"cannot be split across {world_size} data-parallel processes; use one process or protocol=document"
                )
            self._stream = {
                "stream": requests.stream_fingerprint(self._run["corpus_sha256"], self.window_settings()),
                "count": len(texts),
            }
        # Requests are cheap to build and carry the window settings, so never reuse a request cache
        # that may hold other settings.
        kwargs["cache_requests"] = False
        kwargs["rewrite_requests_cache"] = False
        super().build_all_requests(limit=limit, samples=samples, rank=rank, world_size=world_size, **kwargs)

    def window_settings(self) -> dict:
        s = self.settings
        return requests.request_settings(s["block_size"], s["stride"], s["protocol"], s["window_bos"])

    def request_settings(self) -> dict:
        """The window settings, plus ``windows_in_flight`` for the vLLM engine when it is set."""
        extra = {k: v for k, v in self.settings.items() if k == "windows_in_flight"}
        return {**self.window_settings(), **extra}

    def construct_requests(self, doc, ctx, **kwargs):
        kwargs.pop("apply_chat_template", None)
        kwargs.pop("chat_template", None)
        doc_id, placement = compat.request_placement(kwargs, self.config.task, self.config.repeats)
        settings = self.request_settings()
        if self._stream is not None:
            settings.update(self._stream, position=doc_id)
        return Instance(
            request_type="loglikelihood_rolling",
            doc=doc,
            arguments=compat.rolling_args(self.doc_to_target(doc), settings),
            idx=0,
            **placement,
        )

    # --------------------------------------------------------------- results
    def process_results(self, doc, results):
        (resp,) = results
        run = getattr(resp, "run", None)
        if run is not None and not any(r is run for r in self._scoring_runs):
            self._scoring_runs.append(run)
        seen = {k: resp.get(k) for k in ("prefix_token_id", "prefix_token", "window_bos", "window_bos_reason")}
        previous = self._run.setdefault("model", seen)
        if previous != seen:
            raise RuntimeError(
                f"task {self.config.task}: documents were scored with different settings: {previous} vs {seen}"
            )
        return metrics.process_results(doc, results)

    def dump_config(self) -> dict:
        config = super().dump_config()
        s = self.settings
        summary = {
            "block_size": s["block_size"],
            "stride": s["stride"],
            "protocol": s["protocol"],
            "window_bos_setting": s["window_bos"],
        }
        model = self._run.get("model", {})
        summary.update(
            {
                "window_bos": model.get("window_bos"),
                "window_bos_reason": model.get("window_bos_reason"),
                "prefix_token_id": model.get("prefix_token_id"),
                "prefix_token": model.get("prefix_token"),
            }
        )
        summary.update({k: v for k, v in self._run.items() if k != "model"})
        if self._scoring_runs:
            summary["run"] = self._scoring_runs[0] if len(self._scoring_runs) == 1 else self._scoring_runs
        config["compression"] = summary
        return config
