"""Fixtures of the site tests: the built book served over HTTP on 127.0.0.1."""

import functools
import http.server
import threading

import pytest

from rnnbook.pretrained import load_pretrained
from tests.site.test_html import HTML


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        """No line per request on stderr."""


@pytest.fixture(scope="session")
def site():
    """The built book served over HTTP on 127.0.0.1 (a free port), for the duration of the tests."""
    assert (HTML / "book" / "playground.html").exists(), "the book is not built: run `make book` first"
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(HTML)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="session")
def pretrained():
    return load_pretrained()
