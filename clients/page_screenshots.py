"""Screenshots of the movie-night page as a group uses it, at a desktop's and a phone's size.

`take_screenshots(url)` opens the page a running server serves over HTTP in headless Chromium
(movierec.clients.browser), adds the members, asks for a movie, waits for the cards and writes
page-desktop.png and page-phone.png. `make demo` calls it; it also runs on its own:

    python -m movierec.clients.page_screenshots http://127.0.0.1:8080/ --users 1,2
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from movierec.clients.browser import launch
from movierec.diagnostics import MovierecError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# (width, height) in CSS pixels: a laptop's window and a common phone's.
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}
PROMPT = "a funny heist movie, nothing too long"
# A phone's page is one long column: the picture stops after this many cards.
PHONE_CARDS = 2


def ask(page: Page, url: str, users: Sequence[int | str], prompt: str, timeout_s: float = 60.0) -> None:
    """Open the page, add the members (user ids, or guests' names), ask, and wait for the cards.

    Raises MovierecError with the page's own message when it shows an error instead.
    """
    page.goto(url)
    member = page.get_by_label("User id, or a guest's name")
    for n, user in enumerate(users, start=1):
        member.fill(str(user))
        member.press("Enter")
        _wait(page, f"document.querySelectorAll('#members li').length >= {n}", timeout_s)
    box = page.get_by_label("What do you feel like?")
    box.fill(prompt)
    box.press("Enter")
    _wait(page, "document.querySelector('#cards article') && !document.querySelector('#cards[aria-busy]')", timeout_s)


def _wait(page: Page, condition: str, timeout_s: float) -> None:
    """Wait until `condition` holds in the page, or fail with the error the page shows."""
    shown = "(document.getElementById('error').textContent || '')"
    page.wait_for_function(f"() => ({condition}) || {shown}.length > 0", timeout=timeout_s * 1000)
    error = page.evaluate(f"() => {shown}")
    if error:
        raise MovierecError(f"the page shows an error: {error}")


def take_screenshots(
    url: str,
    out_dir: Path = Path("reports"),
    users: Sequence[int | str] = (1, 2),
    prompt: str = PROMPT,
    timeout_s: float = 60.0,
    browser: Browser | None = None,
) -> list[Path]:
    """Write `out_dir`/page-desktop.png and page-phone.png of the page at `url`; returns their paths.

    Starts Chromium for the pictures unless given a `browser` (Playwright's sync API runs one driver
    per thread, so a caller that has one passes its browser).
    """
    if browser is None:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            started = launch(playwright)
            try:
                return take_screenshots(url, out_dir, users, prompt, timeout_s, started)
            finally:
                started.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (width, height) in SIZES.items():
        context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
        try:
            page = context.new_page()
            ask(page, url, users, prompt, timeout_s)
            page.evaluate("() => document.activeElement && document.activeElement.blur()")  # no focus ring
            path = out_dir / f"page-{name}.png"
            if name == "phone":
                # From the top down to the end of the first cards: the page as one scrolls it.
                cards = page.locator("#cards article")
                last = cards.nth(min(PHONE_CARDS, cards.count()) - 1).bounding_box()
                bottom = height if last is None else max(height, last["y"] + last["height"] + 16)
                page.screenshot(path=path, full_page=True, clip={"x": 0, "y": 0, "width": width, "height": bottom})
            else:
                page.screenshot(path=path)
            written.append(path)
        finally:
            context.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m movierec.clients.page_screenshots",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("url", help="the server's HTTP address, e.g. http://127.0.0.1:8080/")
    parser.add_argument("--users", default="1,2", help="members, comma-separated: user ids or guests' names")
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--out", type=Path, default=Path("reports"))
    args = parser.parse_args(argv)
    users = [u.strip() for u in args.users.split(",") if u.strip()]
    try:
        for path in take_screenshots(args.url, args.out, users, args.prompt):
            print(path)
    except MovierecError as e:
        print(f"page_screenshots: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
