"""HTTP sessions with retries (urllib3's ``Retry`` through requests' ``HTTPAdapter``) and a polite pace."""

from __future__ import annotations

import time

import requests
from requests.adapters import HTTPAdapter
from urllib3.util import Retry

USER_AGENT = "lm-eval-compression-collect (corpus for compression evaluation)"
RETRY_STATUSES = (429, 500, 502, 503, 504)


def session(
    retries: int = 6, backoff: float = 2.0, max_backoff: float = 600.0, headers: dict | None = None
) -> requests.Session:
    """A session that retries connection errors and 429/5xx answers with exponential backoff, honouring
    ``Retry-After``; a last failing answer is returned (not raised) so callers can record its status."""
    retry = Retry(
        total=retries,
        backoff_factor=backoff,
        backoff_max=max_backoff,
        status_forcelist=RETRY_STATUSES,
        allowed_methods=("GET", "HEAD"),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    s = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    s.mount("http://", adapter)
    s.mount("https://", adapter)
    s.headers["User-Agent"] = USER_AGENT
    s.headers.update(headers or {})
    return s


class PoliteSession:
    """A retrying session that leaves at least ``delay`` seconds between requests (arXiv asks for 3 s)."""

    def __init__(self, delay: float = 0.0, headers: dict | None = None, retries: int = 6, backoff: float = 2.0):
        self.session = session(retries, backoff, headers=headers)
        self.delay = delay
        self.requests = 0
        self._last = 0.0

    def get(self, url: str, timeout: float = 120, **kwargs) -> requests.Response:
        wait = self.delay - (time.monotonic() - self._last)
        if wait > 0:
            time.sleep(wait)
        try:
            return self.session.get(url, timeout=timeout, **kwargs)
        finally:
            self._last = time.monotonic()
            self.requests += 1
