"""Main text of HTML pages: trafilatura through datatrove's extractor (a sandboxed process with a per-page
timeout) or resiliparse (much faster, a little less precise)."""

from __future__ import annotations

from datatrove.pipeline.extractors.base import BaseExtractor

# datatrove extractor stats -> drop reasons of the extract step
EXTRACT_FAILURES = {
    "timeout": "extract_timeout",
    "broken_process": "extract_crash",
    "clean_error": "extract_error",
    "dropped": "extract_empty",
}


def html_decode(data: bytes) -> str:
    from resiliparse.parse.encoding import bytes_to_str, detect_encoding

    return bytes_to_str(data, detect_encoding(data))


class ResiliparseExtractor(BaseExtractor):
    """Main-content text with resiliparse."""

    name = "resiliparse"

    def __init__(self, timeout: float = 5):
        super().__init__(timeout)

    def extract(self, text: str) -> str:
        from resiliparse.extract.html2text import extract_plain_text

        return extract_plain_text(
            text, preserve_formatting=True, main_content=True, alt_texts=False, list_bullets=True, comments=False
        )


def make_extractor(name: str, timeout: float) -> BaseExtractor:
    if name == "resiliparse":
        return ResiliparseExtractor(timeout)
    import trafilatura  # noqa: F401  (imported before the sandbox forks, so its start is quick)
    from datatrove.pipeline.extractors import Trafilatura

    return Trafilatura(favour_precision=True, timeout=timeout)
