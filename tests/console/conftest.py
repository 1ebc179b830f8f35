"""One real de-node on loopback, the real `gateway console` process against it, and one Chromium (Debian's,
driven by Playwright) for the whole module."""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from gateway.testing.federation import Federation
from gateway.testing.nodes import NodeRunner, connect, free_port, write_client_profile, write_directory, \
    write_node_config
from tests.support.console_rig import (
    CHROMIUM, CHROMIUM_ARGS, CUSTOMS, PASSWORDS, POST, ROOT, SCREENSHOTS, ConsoleRig,
)
from tests.support.two_nodes import wait_for


def _gateway(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "gateway", *args], input=stdin, capture_output=True, text=True,
                          timeout=60, cwd=ROOT)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


@pytest.fixture(scope="module")
def rig(federation: Federation, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsoleRig]:
    tmp = tmp_path_factory.mktemp("console")
    port = free_port()
    directory = write_directory(federation, tmp, {"de-node": port, "fr-node": free_port()})
    # Test configs sweep expired deliveries every 0.2 s: a message past its expiry is a dead letter at once.
    config = write_node_config(federation, tmp, "de-node", port, directory)
    runner = NodeRunner(config).start()
    profile = write_client_profile(federation, tmp, CUSTOMS, runner.address, ("admin", "assist"))
    users = tmp / "console-users.toml"
    for name, (role, password) in PASSWORDS.items():
        added = _gateway("console", "user", "add", name, "--role", role, "--users", str(users), stdin=password + "\n")
        assert added.returncode == 0, added.stderr
    cport = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gateway", "console", "--client", str(profile), "--listen",
                             f"127.0.0.1:{cport}", "--users", str(users)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{cport}"
    post, customs = connect(federation, "de-node", runner.address, POST), connect(federation, "de-node",
                                                                                 runner.address, CUSTOMS)
    try:
        wait_for(lambda: proc.poll() is not None or _answers(url + "/login"))
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        yield ConsoleRig(url, runner, post, customs, users)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        post.close()
        customs.close()
        runner.close()


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True,
            args=CHROMIUM_ARGS, viewport={"width": 1280, "height": 900})
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A signed-out tab: each test starts without the previous test's session."""
    browser_context.clear_cookies()
    tab = browser_context.new_page()
    try:
        yield tab
    finally:
        tab.close()
