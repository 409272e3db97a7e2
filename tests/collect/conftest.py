"""Fixtures of the collect tests: the local git repositories the python pipeline reads (built once, read
only). The other inputs (WARC files, LaTeX archives, the loopback HTTP server) are in ``fixtures.py``."""

import pytest

from tests.collect.fixtures import python_repos


@pytest.fixture(scope="session")
def repos(tmp_path_factory):
    """``python_repos``: three repositories, the repository list and the file-size threshold."""
    return python_repos(tmp_path_factory.mktemp("repos"))
