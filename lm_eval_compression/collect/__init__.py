"""``python -m lm_eval_compression collect``: rebuild the three corpora from material newer than a cut-off.

Compression (bits per character) only measures generalisation on text that no model has trained on,
so the corpora have to be rebuilt after every new model's training cut-off.  Each pipeline is a set of
datatrove stages that run on this machine (``--executor local``, the default), on a Ray cluster or as
Slurm jobs, and writes ``<out>/<area>.jsonl`` in the evaluation schema (``{"content", "subset", "meta"}``),
so ``<out>`` can be passed as the tasks' ``data_dir``, plus ``<out>/<area>.manifest.json``.

    collect python      {search,clone,extract,all}  GitHub repositories -> python.jsonl
    collect arxiv_math  {list,download,extract,all} arXiv math LaTeX sources -> arxiv_math.jsonl
    collect cc          {extract,all}               Common Crawl WARC/WET files -> cc.jsonl
    collect contamination INPUT.jsonl --reference REF.jsonl   share of documents sharing a 13-gram

Modules::

    cli            the command line; python_code, arxiv, web: one area each (its steps and options)
    options        the options every pipeline shares, checked once into a PipelineOptions
    pipeline       an area's stages around its reader and filters (AreaPipeline); stages: running them
    steps          the document steps' bookkeeping; readers, warc: source files -> documents
    github, arxiv_api, network, fetch   the network steps (search, clone, list, download)
    sources, latex arXiv source archives -> TeX files -> text (sandboxed pandoc)
    limits         the bounds on one item (paper, download, record) and their defaults
    html_text, filters, dedup, contamination, sampling   the document steps
    manifest       <out>/<area>.manifest.json from datatrove's stats; dates, files: small helpers
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    from .cli import main as cli_main

    return cli_main(argv)
