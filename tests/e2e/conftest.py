"""Browser tests: the real app served on loopback, driven by Playwright in Debian's chromium."""
from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import WSGIRequestHandler, make_server

ARTIFACTS = Path(__file__).parent / "artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


class _OneRequestPerConnection(WSGIRequestHandler):
    protocol_version = "HTTP/1.0"


@pytest.fixture
def live_server(app):
    # HTTP/1.0: a connection per request. A kept-alive socket of Werkzeug's development server that
    # the browser reuses for a POST can wait with no answer and no log line (seen in CI at sign-out,
    # never here); the app behind gunicorn or nginx is not what that tests.
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_OneRequestPerConnection)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def browser():
    if not shutil.which("chromium") and not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium); .ci/run installs it")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def tablet(browser):
    """An iPad-sized touch screen, in Chinese like the bureau's tablets."""
    context = browser.new_context(viewport={"width": 768, "height": 1024}, has_touch=True, locale="zh-CN")
    yield context
    context.close()


def shoot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def pytest_collection_modifyitems(items):
    """A browser that moves on while the live server still sends a static file drops the connection;
    Werkzeug's development server then leaves that file to the garbage collector (a ResourceWarning
    raised later, in whichever test is running). Not the app's doing: ignored for these files only."""
    for item in items:
        if item.nodeid.startswith("tests/e2e/"):
            item.add_marker(pytest.mark.filterwarnings(
                r"ignore:Exception ignored in. <_io\.(FileIO|BufferedReader) name='[^']*/static/"
                r":pytest.PytestUnraisableExceptionWarning"))
