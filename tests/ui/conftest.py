"""Fixtures for the web UI tests: a query server on the in-memory store loaded with synthetic
OpenStack traces, and a real headless Chromium driven by Playwright (skipped without one)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from cobalt_testkit import running_query_server
from cobalt_trace.store import MemoryStore

from .synthetic import records_for_ui

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
CHROMIUM = os.environ.get("COBALT_CHROMIUM", "/usr/bin/chromium")
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


running_server = running_query_server  # bench/ui.py imports it from here


@pytest.fixture(scope="session")
def ui_data():
    return records_for_ui()


@pytest.fixture(scope="session")
def base_url(ui_data):
    store = MemoryStore()
    store.write_spans(ui_data["spans"])
    with running_server(store) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    # Module scope, not session: Playwright's sync API keeps an asyncio loop "running" in the
    # main thread while it is open, so any later test's asyncio.run() in the same worker would fail.
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (install the Debian 'chromium' package)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class PageProbe:
    """What a page did besides rendering: script errors, console errors and dialogs."""

    def __init__(self, page):
        self.page = page
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.allowed_errors: tuple[str, ...] = ()
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(msg.text))

        def on_dialog(dialog):
            self.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path))
        return path


@pytest.fixture(params=["light"])
def probe(browser, base_url, request):
    context = browser.new_context(
        base_url=base_url, viewport={"width": 1440, "height": 900}, color_scheme=request.param
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    p = PageProbe(page)
    try:
        yield p
    finally:
        context.close()
    errors = [e for e in p.errors if not any(a in e for a in p.allowed_errors)]
    assert errors == [], f"the page reported errors: {errors}"
    assert p.dialogs == [], f"a dialog opened: {p.dialogs}"
