"""A real headless Chromium (Debian's package) driven by Playwright, for the report tests."""

from __future__ import annotations

import shutil
from contextlib import contextmanager

from playwright.sync_api import sync_playwright

# Chromium must not reach for the network: this machine has none, and a report needs none.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "Chromium is missing: `make browser` installs Debian's chromium package"
    return path


@contextmanager
def chromium():
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
