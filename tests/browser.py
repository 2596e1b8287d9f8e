"""Headless Chromium (Debian's package) driven by Playwright, failing on any console error; screenshots for a
person go to build/screenshots/ (or $FTADVISOR_SCREENSHOTS)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
WIDTHS = {"desktop": (1280, 900), "phone": (390, 844)}


def screenshot_dir() -> Path:
    d = Path(os.environ.get("FTADVISOR_SCREENSHOTS", ROOT / "build" / "screenshots"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def chromium_path() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            raise AssertionError("chromium is missing: scripts/setup.sh installs Debian's chromium package")
        pytest.skip("headless Chromium is not installed")
    return exe


class Page:
    """A Playwright page plus every console error and uncaught exception it produced."""

    def __init__(self, page) -> None:  # type: ignore[no-untyped-def]
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))

    def check(self) -> None:
        assert not self.errors, self.errors


@contextmanager
def browser() -> Iterator:  # type: ignore[type-arg]
    from playwright.sync_api import sync_playwright

    exe = chromium_path()
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def open_page(b, path: Path, size: str = "desktop") -> Page:  # type: ignore[no-untyped-def]
    """Load a local file offline: any request that leaves the file fails the test."""
    w, h = WIDTHS[size]
    context = b.new_context(viewport={"width": w, "height": h})
    requests: list[str] = []

    def only_the_file(route) -> None:  # type: ignore[no-untyped-def]
        requests.append(route.request.url)
        if route.request.url.startswith("file:"):
            route.continue_()
        else:
            route.abort()

    context.route("**/*", only_the_file)
    page = Page(context.new_page())
    page.page.goto(path.resolve().as_uri())
    page.page.wait_for_load_state("load")
    outside = [u for u in requests if not u.startswith("file:")]
    assert not outside, f"the page fetched {outside}"
    return page


def screenshots(b, path: Path, name: str) -> list[Path]:  # type: ignore[no-untyped-def]
    """Full-page and first-screen screenshots at desktop and phone widths; the page must log no error."""
    written = []
    for size in WIDTHS:
        page = open_page(b, path, size)
        page.page.wait_for_timeout(300)
        for full in (False, True):
            out = screenshot_dir() / f"{name}-{size}{'-full' if full else ''}.png"
            page.page.screenshot(path=str(out), full_page=full)
            written.append(out)
        page.check()
        page.page.context.close()
    return written
