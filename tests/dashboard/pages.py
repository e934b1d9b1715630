"""Helpers for driving the dashboard page in headless Chromium (shared by the browser tests)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from shared_schemas.protocol import STATUS_COLOURS

ROOT = Path(__file__).resolve().parents[2]
DOCS_IMAGES = ROOT / "docs" / "img"
UPDATE_DOCS_ENV = "REVITPYIOT_UPDATE_DOCS_IMAGES"


def rgb(status: str) -> str:
    r, g, b = STATUS_COLOURS[status]
    return f"rgb({r}, {g}, {b})"


async def open_page(browser, url: str, theme: str = "dark"):
    context = await browser.new_context(viewport={"width": 1600, "height": 900}, color_scheme=theme)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(url)
    await page.wait_for_selector("body[data-ready='1']")
    await page.wait_for_selector("#conn.up")
    return page, errors


async def wait_fill(page, selector: str, status: str, timeout_ms: int = 5000) -> None:
    """Wait for the computed fill to settle on the status colour (the plan fades colours in)."""
    await page.wait_for_function(
        "([sel, want]) => { const n = document.querySelector(sel); return n && getComputedStyle(n).fill === want; }",
        arg=[selector, rgb(status)], timeout=timeout_ms)


async def shot(page, folder: Path, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await page.screenshot(path=str(path))
    return path


def publish_docs_images(folder: Path, names: tuple[str, ...]) -> list[Path]:
    """Copy the named screenshots to ``docs/img/dashboard-<name>.png``, only when asked
    (``REVITPYIOT_UPDATE_DOCS_IMAGES=1``): a normal test run leaves the checkout as it found it."""
    if os.environ.get(UPDATE_DOCS_ENV) != "1":
        return []
    DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
    copied = []
    for name in names:
        source = folder / f"{name}.png"
        if source.exists():
            target = DOCS_IMAGES / f"dashboard-{name}.png"
            shutil.copyfile(source, target)
            copied.append(target)
    return copied
