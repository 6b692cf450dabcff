"""Real headless Chromium for the web UI's tests (Playwright driving Debian's ``chromium``).

Never ``playwright install``: the browser is the system's. Outside CI a machine without
chromium skips the browser tests with the reason; in CI (``CI`` set) a missing chromium
fails them, since ``.ci/run`` installs it.
"""

from __future__ import annotations

import ipaddress
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

#: A name the browser resolves to loopback (``--host-resolver-rules``), so that a test can
#: reach a local server under a Host that is not a loopback name, as on Binder.
REMOTE_NAME = "jupyter.nomadlab.test"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Debian's chromium, or a skip (a failure in CI) saying how to get it."""
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if found:
        return found
    message = "no chromium on this machine: apt-get install -y chromium (as .ci/run does)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def is_local(url: str) -> bool:
    """Whether a URL the browser asked for stays on this machine (or is no network at all)."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about", "chrome", "devtools"):
        return True
    host = (parts.hostname or "").strip("[]")
    if host in ("localhost", REMOTE_NAME) or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Browser:
    """One Chromium with a fresh profile; records every URL it requests."""

    def __init__(self, context: object) -> None:
        self.context = context
        self.requests: list[str] = []
        context.on("request", lambda request: self.requests.append(request.url))

    def page(self) -> object:
        return self.context.new_page()

    def foreign_requests(self) -> list[str]:
        return [url for url in self.requests if not is_local(url)]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    """A headless Chromium (fresh user data dir) shared by a module's tests."""
    executable = chromium_path()
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]'")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=executable,
            args=[*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {REMOTE_NAME} 127.0.0.1"],
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield Browser(context)
        finally:
            context.close()
