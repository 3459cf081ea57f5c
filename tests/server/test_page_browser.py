"""The movie-night page in a real browser (headless Chromium) against a real server's HTTP API.

One server of this module's own over a copy of the sample index (the tests record feedback), each
test as a different sample user so their marks and ratings do not meet. Every page fails its test
on a script error or a Content-Security-Policy violation.
"""

from __future__ import annotations

import json
import re
import shutil
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request, expect, sync_playwright

from movierec.clients.browser import launch
from movierec.clients.client import RecommenderClient
from movierec.clients.page_screenshots import ask
from movierec.embedding import Encoder
from movierec.settings import Settings

# One worker runs this module's tests back to back (xdist_group), and Playwright lives for the module only:
# its synchronous API keeps an event loop running in the thread, which would make a later test's
# asyncio.run in the same worker fail.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


@dataclass
class PageServer:
    url: str  # the HTTP API and the page
    client: RecommenderClient  # gRPC, to check what the page did from the other side

    def get(self, path: str) -> Any:
        with urllib.request.urlopen(self.url + path.lstrip("/"), timeout=30) as response:
            return json.load(response)


@pytest.fixture(scope="module")
def page_server(
    tmp_path_factory: pytest.TempPathFactory, sample_settings: Settings, encoder: Encoder
) -> Iterator[PageServer]:
    """A server with HTTP on port 0 over a copy of the sample index."""
    from movierec.server.app import create_server

    index_dir = tmp_path_factory.mktemp("page") / "index"
    shutil.copytree(sample_settings.index.index_dir, index_dir, ignore=shutil.ignore_patterns("feedback.sqlite*"))
    settings = sample_settings.replace(index_dir=index_dir, http_port=0)
    server, port = create_server(settings, "127.0.0.1:0", encoder=encoder)
    client = RecommenderClient(f"127.0.0.1:{port}")
    assert client.wait_until_serving(30)
    yield PageServer(f"http://127.0.0.1:{server.http_port}/", client)
    client.close()
    server.stop(None)


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium for the module (installed with apt-get when the machine has none)."""
    browser = launch(playwright)
    yield browser
    browser.close()


@pytest.fixture()
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (its own storage) that fails the test on any script error or blocked resource."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))

    def console(message: ConsoleMessage) -> None:
        # A 404 or 400 the page asked for on purpose shows as "Failed to load resource"; the page
        # handles it. Anything else logged as an error (a CSP violation, say) is a fault.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(f"console: {message.text}")

    page.on("console", console)
    page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
    yield page
    context.close()
    assert not problems, problems


def card_ids(page: Page) -> list[int]:
    return [int(i) for i in page.locator("#cards article").evaluate_all("cards => cards.map(c => c.dataset.movieId)")]


def card_years(page: Page) -> list[int]:
    """The year each card shows (its details line starts with it)."""
    return [int(m[0]) for text in page.locator("#cards .meta").all_text_contents() if (m := re.match(r"\d{4}", text))]


def settled(page: Page) -> None:
    """Wait until no request of the page's is in flight (the cards are the newest answer's)."""
    page.wait_for_function("() => !document.querySelector('#cards[aria-busy]')")


def recommend_bodies(page: Page) -> list[dict[str, Any]]:
    """Collects the body of every POST /v1/recommend the page sends from now on."""
    bodies: list[dict[str, Any]] = []

    def sent(request: Request) -> None:
        if request.method == "POST" and request.url.endswith("/v1/recommend"):
            bodies.append(json.loads(request.post_data or "{}"))

    page.on("request", sent)
    return bodies


def test_a_group_asks_and_sees_cards_with_details_reasons_and_each_members_fit(
    page: Page, page_server: PageServer
) -> None:
    bodies = recommend_bodies(page)
    ask(page, page_server.url, [3, "Sam", 4], "a funny adventure")
    assert bodies[-1]["user_id"] == 3 and bodies[-1]["group_user_ids"] == [4]  # the guest adds nothing
    assert bodies[-1]["with_details"] is True and "Sam" not in json.dumps(bodies[-1])
    expected = page_server.client.recommend("a funny adventure", user_id=3, group_user_ids=[4], limit=12)
    assert card_ids(page) == [m.movie_id for m in expected.movies]
    first = page.locator("#cards article").first
    movie = expected.movies[0]
    expect(first.get_by_role("heading", level=3)).to_have_text(movie.title)
    expect(first).to_contain_text(str(movie.year))
    expect(first).to_contain_text(movie.reason)
    expect(first.locator(".overview")).not_to_be_empty()
    expect(first.locator(".director")).to_contain_text("Directed by")
    fit = first.get_by_role("list", name="How well it fits each of you")
    expect(fit.get_by_role("listitem")).to_have_count(2)
    expect(fit).to_contain_text("User 3")
    expect(fit).to_contain_text("User 4")
    expect(page.locator("#status")).to_contain_text("for User 3 and User 4")
    expect(page.locator("#chips")).to_contain_text("Comedy")


def test_removing_a_chip_asks_again_without_it_and_an_edited_one_replaces_it(
    page: Page, page_server: PageServer
) -> None:
    bodies = recommend_bodies(page)
    ask(page, page_server.url, [], "a comedy from the 90s")
    in_the_90s = card_ids(page)
    years = page.get_by_role("button", name="Remove 1990-1999")
    expect(years).to_be_visible()
    years.click()
    expect(years).to_have_count(0)
    settled(page)
    assert bodies[-1]["dropped"] == ["1990-1999"]
    assert card_ids(page) != in_the_90s
    assert any(not 1990 <= year <= 1999 for year in card_years(page))
    expect(page.get_by_role("button", name="Remove Comedy")).to_be_visible()  # the rest of the reading stays

    # Years are edited through the explicit fields, which replace the prompt's reading.
    ask(page, page_server.url, [], "a comedy from the 90s")
    page.get_by_role("button", name="Edit 1990-1999").click()
    page.get_by_label("From year").fill("2000")
    page.get_by_label("to", exact=True).fill("2009")
    page.get_by_label("to", exact=True).press("Enter")
    expect(page.get_by_role("button", name="Remove 2000-2009")).to_be_visible()
    settled(page)
    assert bodies[-1]["year_min"] == 2000 and bodies[-1]["year_max"] == 2009
    assert card_years(page) and all(2000 <= year <= 2009 for year in card_years(page)), card_years(page)


def test_seen_it_takes_the_movie_off_the_list_and_into_the_store(page: Page, page_server: PageServer) -> None:
    ask(page, page_server.url, [5], "an exciting adventure")
    first = card_ids(page)[0]
    page.locator(f'article[data-movie-id="{first}"]').get_by_role("button", name="Seen it").click()
    expect(page.locator(f'article[data-movie-id="{first}"]')).to_have_count(0)
    settled(page)
    assert first not in card_ids(page) and len(card_ids(page)) > 0
    assert page_server.get("/v1/users/5")["seen"] == [first]
    assert page_server.client.user(5).seen == [first]

    # "Not for us" goes the same way, as the other kind of mark; Undo takes it back.
    second = card_ids(page)[0]
    page.locator(f'article[data-movie-id="{second}"]').get_by_role("button", name="Not for us").click()
    expect(page.locator(f'article[data-movie-id="{second}"]')).to_have_count(0)
    assert page_server.get("/v1/users/5")["not_interested"] == [second]
    page.get_by_role("button", name="Undo").click()
    expect(page.locator(f'article[data-movie-id="{second}"]')).to_have_count(1)
    assert page_server.get("/v1/users/5")["not_interested"] == []


def test_the_notice_is_a_live_region_and_undo_hands_the_focus_to_the_movie_back(
    page: Page, page_server: PageServer
) -> None:
    ask(page, page_server.url, [12], "a gripping thriller")
    notice = page.locator("#notice")
    # A live region is heard when what is in it changes: it is in the page before it has anything to say.
    expect(notice).to_have_attribute("role", "status")
    expect(notice).to_have_attribute("aria-live", "polite")
    expect(notice).to_be_attached()
    assert notice.evaluate("n => getComputedStyle(n).display") != "none"
    assert notice.evaluate("n => n.getBoundingClientRect().height") == 0  # but takes no room

    movie = card_ids(page)[0]
    page.locator(f'article[data-movie-id="{movie}"]').get_by_role("button", name="Seen it").click()
    expect(notice).to_contain_text("marked seen for User 12")
    settled(page)
    page.get_by_role("button", name="Undo").click()
    expect(notice).to_contain_text("is back")
    expect(page.locator(f'article[data-movie-id="{movie}"] h3')).to_be_focused()
    assert page_server.get("/v1/users/12")["seen"] == []


def test_closing_the_chip_editor_gives_the_focus_back_to_the_chip(page: Page, page_server: PageServer) -> None:
    ask(page, page_server.url, [], "a comedy from the 90s")
    edit = page.get_by_role("button", name="Edit 1990-1999")
    edit.click()
    expect(page.get_by_label("From year")).to_be_focused()
    page.get_by_label("From year").press("Escape")
    expect(edit).to_be_focused()
    edit.click()
    page.get_by_role("button", name="Cancel").click()
    expect(edit).to_be_focused()
    expect(page.get_by_label("From year")).to_have_count(0)


def test_rate_with_no_rating_chosen_says_so(page: Page, page_server: PageServer) -> None:
    bodies: list[str] = []
    page.on("request", lambda request: bodies.append(request.url) if request.url.endswith("/v1/feedback") else None)
    ask(page, page_server.url, [13], "a heartwarming family film")
    card = page.locator("#cards article").first
    card.get_by_role("button", name="Rate").click()
    expect(page.get_by_role("alert")).to_contain_text("Choose a rating for")
    expect(card.get_by_label("Rating for")).to_be_focused()
    assert bodies == []  # nothing was sent


def test_a_form_sent_before_the_script_has_loaded_goes_nowhere(browser: Browser, page_server: PageServer) -> None:
    """The page's forms are its script's; without it (not loaded yet) the browser would send one to a
    URL with what was typed in its query. The page's Content-Security-Policy stops that, and says so."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.route("**/static/app.js", lambda route: route.abort())
        urls: list[str] = []
        page.on("request", lambda request: urls.append(request.url))
        for label, typed in (
            ("Bearer token", "a-secret-token"),
            ("What do you feel like?", "a comedy"),
            ("User id, or a guest's name", "Sam"),
        ):
            page.goto(page_server.url)
            if label == "Bearer token":
                page.get_by_text("Access token").click()
            page.get_by_label(label).fill(typed)
            # The keyboard's Enter: Locator.press would wait for the navigation that never comes.
            with page.expect_console_message(lambda message: "form-action" in message.text):
                page.keyboard.press("Enter")
            assert page.url == page_server.url
        assert not any("secret" in url or "comedy" in url or "Sam" in url for url in urls), urls
    finally:
        context.close()


def test_a_rating_given_on_a_card_is_stored_for_the_chosen_member(page: Page, page_server: PageServer) -> None:
    ask(page, page_server.url, [6, 7], "a heartwarming family film")
    page.get_by_label("Feedback from").select_option("7")
    movie = card_ids(page)[1]
    card = page.locator(f'article[data-movie-id="{movie}"]')
    card.get_by_label("Rating for").select_option("4.5")
    card.get_by_role("button", name="Rate").click()
    expect(card.get_by_role("status")).to_contain_text("4.5")
    recent = page_server.get("/v1/users/7?limit=1")["recent"]
    assert recent[0]["movie_id"] == movie and recent[0]["rating"] == 4.5
    assert movie not in [r.movie_id for r in page_server.client.user(6, 1000).recent]


def test_the_prompt_and_what_the_server_echoes_are_shown_as_text_never_run(page: Page, page_server: PageServer) -> None:
    ask(page, page_server.url, [], f"{XSS} a comedy")
    expect(page.locator("#asked")).to_have_text(f"“{XSS} a comedy”")
    expect(page.locator("#mood")).to_contain_text("script")  # the server's reading, as text too
    assert page.evaluate("typeof window.__xss") == "undefined"
    assert page.evaluate("document.querySelectorAll('img').length") == 0
    assert page.evaluate("[...document.scripts].map(s => new URL(s.src).pathname)") == ["/static/app.js"]


def test_an_error_from_the_api_is_shown_in_the_alert(page: Page, page_server: PageServer) -> None:
    page.goto(page_server.url)
    member = page.get_by_label("User id, or a guest's name")
    member.fill("990001")
    member.press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("There is no user 990001")
    ask(page, page_server.url, [], "a comedy from the 90s")
    page.get_by_role("button", name="Edit 1990-1999").click()
    page.get_by_label("From year").fill("2005")
    page.get_by_label("to", exact=True).fill("1995")
    page.get_by_label("to", exact=True).press("Enter")
    # The server's own message, from its JSON error.
    expect(page.get_by_role("alert")).to_contain_text("year_min")


def test_the_token_is_kept_for_the_tab_and_sent_as_a_bearer_token(page: Page, page_server: PageServer) -> None:
    headers: list[str | None] = []
    page.on(
        "request",
        lambda request: (
            headers.append(request.headers.get("authorization")) if request.url.endswith("/v1/recommend") else None
        ),
    )
    page.goto(page_server.url)
    page.get_by_text("Access token").click()
    page.get_by_label("Bearer token").fill("let-me-in")
    page.get_by_label("Bearer token").press("Enter")
    assert page.evaluate("sessionStorage.getItem('movierec.token')") == "let-me-in"
    ask(page, page_server.url, [], "a comedy")  # a reload: the token stays for the tab
    assert headers[-1] == "Bearer let-me-in"


def test_the_page_fits_a_phone(browser: Browser, page_server: PageServer) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        ask(page, page_server.url, [8, 9], "a funny heist movie, nothing too long")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#cards article").first.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
    finally:
        context.close()


def test_screenshots_are_written(browser: Browser, page_server: PageServer, tmp_path: Path) -> None:
    from movierec.clients.page_screenshots import take_screenshots

    written = take_screenshots(page_server.url, tmp_path, users=[10, 11], browser=browser)
    assert [p.name for p in written] == ["page-desktop.png", "page-phone.png"]
    assert all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in written)
