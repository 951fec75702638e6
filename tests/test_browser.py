"""The web chat in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

Without /usr/bin/chromium these tests skip, unless QA_REQUIRE_BROWSER=1 (CI), where they fail.
Screenshots go to test-artifacts/.
"""

import os
import time
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CARD_QUESTION = "Why isn't Russia in the coalition?"
LAVROV = "Russia is not a member of the U.S.-led anti-ISIS coalition"
CARD_TITLE = "Russian FM: We and the US Are Arming Opposing Sides in Syrian Conflict"
TIMEOUT = 30_000  # ms; generous for a loaded 2-core machine, not a timing assertion

# An article whose quotable sentence carries a script, an onerror image and a javascript: link.
# The backslashes keep the link syntax through the markdown parser as literal text.
EVIL_TITLE = "Zebra crossing festival opens in Tallinn"
EVIL_ARTICLE = f"""{EVIL_TITLE}

By Test Desk | May 4, 2021

The zebra crossing festival in Tallinn drew nine thousand pedestrians <script>window.__pwned = 1; alert(1)</script> \
on its first day <img src=x onerror="window.__pwned = 2; alert(2)"> according to organiser Maret Kask \
\\[details\\](javascript:window.__pwned=3) and \\!\\[x\\](http://127.0.0.1:9/x.png) <a href="javascript:alert(3)">here</a>.

Kask said the festival would return next spring with a parade of striped umbrellas along the old town walls.
"""


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        if os.environ.get("QA_REQUIRE_BROWSER") == "1":
            pytest.fail(f"{CHROMIUM} is missing and QA_REQUIRE_BROWSER=1 (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)")
    from playwright.sync_api import sync_playwright
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="module")
def page(browser, web_app):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT)
    pg.dialogs = []
    pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
    pg.goto(web_app.url, wait_until="load")
    pg.locator("#qa-question").get_by_test_id("textbox").wait_for()
    yield pg
    ctx.close()


def ask(page, question: str):
    """Submit a question; returns the new bot message's locator once its quotes (or text) appear."""
    before = page.get_by_test_id("bot").count()
    page.locator("#qa-question").get_by_test_id("textbox").fill(question)
    t = time.perf_counter()
    page.get_by_test_id("submit-button").click()
    msg = page.get_by_test_id("bot").nth(before)
    msg.locator("blockquote, strong").first.wait_for()
    print(f"\n[timing] {question!r}: submit to rendered answer {time.perf_counter() - t:.2f}s")
    return msg


def no_injection(page):
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert page.locator("img[src='x'], [data-testid='bot'] img, [data-testid='bot'] script").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0


def test_card_question_shows_lavrovs_quote_with_its_source(page):
    msg = ask(page, CARD_QUESTION)
    first = msg.locator("blockquote").first
    assert LAVROV in first.inner_text()
    assert CARD_TITLE in msg.inner_text()
    # The paragraph opens with the quoted sentence highlighted.
    msg.locator("details summary").first.click()
    assert LAVROV in msg.locator("details mark").first.inner_text()
    page.screenshot(path=ARTIFACTS / "chat-laptop.png")


def test_follow_up_in_the_browser(page):
    ask(page, "What did Samantha Power say about Assad?")
    msg = ask(page, "And what did she say about ISIL?")
    first = msg.locator("blockquote").first.inner_text()
    assert "ISIL" in first and "Power" in first
    page.screenshot(path=ARTIFACTS / "chat-follow-up.png")


def test_a_question_with_markup_is_shown_not_run(page):
    msg = ask(page, 'Is <img src=x onerror="window.__pwned=9; alert(9)"> <b>bold</b> in the articles?')
    assert msg.is_visible()
    time.sleep(0.3)  # let an injected handler fire if there were one
    no_injection(page)
    page.screenshot(path=ARTIFACTS / "chat-question-markup.png")


def test_phone_width(browser, web_app):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT)
    pg.goto(web_app.url, wait_until="load")
    pg.locator("#qa-question").get_by_test_id("textbox").wait_for()
    msg = ask(pg, CARD_QUESTION)
    assert LAVROV in msg.locator("blockquote").first.inner_text()
    # Nothing wider than the screen: the chat, the Library list, an article.
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    pg.screenshot(path=ARTIFACTS / "chat-phone.png")
    pg.get_by_role("tab", name="Library").click()
    pg.locator("#qa-list li").first.wait_for()
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    pg.locator("#qa-list a.qa-open").first.click()
    pg.locator("#qa-article h2").wait_for()
    assert pg.evaluate("document.documentElement.scrollWidth") <= 390
    pg.screenshot(path=ARTIFACTS / "article-phone.png")
    ctx.close()


def _in_view(page, locator) -> bool:
    """Whether the element's box lies inside the window (after scrolling has settled)."""
    time.sleep(0.5)
    box, view = locator.bounding_box(), page.viewport_size
    return box is not None and 0 <= box["y"] and box["y"] + box["height"] <= view["height"] \
        and 0 <= box["x"] and box["x"] + box["width"] <= view["width"]


@pytest.mark.parametrize("width,height", [(1280, 800), (390, 844)])
def test_an_answer_opens_at_its_first_quote(browser, web_app, width, height):
    ctx = browser.new_context(viewport={"width": width, "height": height})
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT)
    pg.goto(web_app.url, wait_until="load")
    pg.locator("#qa-question").get_by_test_id("textbox").wait_for()
    ask(pg, "What did Samantha Power say about Assad?")
    msg = ask(pg, CARD_QUESTION)  # a second answer: the chat already holds a long one above it
    assert LAVROV in msg.locator("blockquote").first.inner_text()
    assert _in_view(pg, msg.locator("blockquote").first)
    assert _in_view(pg, pg.get_by_test_id("user").last)  # the question it answers, too
    pg.screenshot(path=ARTIFACTS / f"chat-first-quote-{width}x{height}.png")
    ctx.close()


def test_one_filter_panel(page):
    assert page.get_by_text("Filter by speaker, outlet or date", exact=True).count() == 1


def test_up_recalls_the_last_question(page):
    ask(page, "What did Samantha Power say about Assad?")
    box = page.locator("#qa-question").get_by_test_id("textbox")
    box.fill("")
    box.press("ArrowUp")
    assert box.input_value() == "What did Samantha Power say about Assad?"
    box.press("ArrowDown")
    assert box.input_value() == ""
    box.fill("Why isn't Russia in the coalition?")
    before = page.get_by_test_id("bot").count()
    box.press("Enter")  # Enter asks
    page.get_by_test_id("bot").nth(before).locator("blockquote").first.wait_for()


def test_open_in_article_marks_the_sentence(page):
    msg = ask(page, CARD_QUESTION)
    quote = msg.locator("blockquote").first.inner_text()
    msg.locator("a.qa-open").first.click()
    hit = page.locator("#qa-article mark.qa-hit")
    hit.wait_for()
    assert hit.inner_text() in quote and LAVROV in hit.inner_text()
    assert CARD_TITLE in page.locator("#qa-article h2").inner_text()
    assert page.get_by_role("tab", name="Library").get_attribute("aria-selected") == "true"
    assert _in_view(page, hit)
    page.screenshot(path=ARTIFACTS / "article-opened-from-quote.png")
    page.locator("#qa-back").click()  # back where it was opened: the chat
    page.locator("#qa-question").get_by_test_id("textbox").wait_for()
    assert page.get_by_role("tab", name="Chat").get_attribute("aria-selected") == "true"


def test_copy_with_citation(browser, web_app):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900},
                              permissions=["clipboard-read", "clipboard-write"])
    pg = ctx.new_page()
    pg.set_default_timeout(TIMEOUT)
    pg.goto(web_app.url, wait_until="load")
    pg.locator("#qa-question").get_by_test_id("textbox").wait_for()
    msg = ask(pg, CARD_QUESTION)
    # one citation a quote (k=3 is a maximum), hidden until copied
    assert msg.locator(".qa-cite").count() == msg.locator(".qa-quote").count() >= 1
    assert not msg.locator(".qa-cite").first.is_visible()
    msg.locator("a.qa-copy").first.click()
    msg.get_by_text("Copied").wait_for()
    copied = pg.evaluate("navigator.clipboard.readText()")
    assert copied.startswith("“" + LAVROV) and copied.endswith(f"” — {CARD_TITLE}, Patrick Goodenough, 22 Oct 2014")
    ctx.close()


def _library_tab(page):
    """The Library tab showing its list (not an open article)."""
    page.get_by_role("tab", name="Library").click()
    if page.locator("#qa-back").is_visible():
        page.locator("#qa-back").click()
        page.get_by_role("tab", name="Library").click()
    page.locator("#qa-upload").wait_for()


def _upload(page, name: str, data: bytes):
    page.locator("#qa-upload input[type=file]").set_input_files(
        files=[{"name": name, "mimeType": "text/plain", "buffer": data}])


def test_upload_of_an_article_with_markup_runs_nothing_and_is_answerable(page, web_app, tmp_path):
    n_before = len(web_app.library.articles())
    _library_tab(page)
    _upload(page, "zebra.txt", EVIL_ARTICLE.encode())
    page.locator("#qa-status").get_by_text("Added").wait_for()
    page.locator("#qa-status").get_by_text(EVIL_TITLE).wait_for()
    page.get_by_text(EVIL_TITLE).first.wait_for()
    assert len(web_app.library.articles()) == n_before + 1
    page.screenshot(path=ARTIFACTS / "library-added.png", full_page=True)
    no_injection(page)

    page.get_by_role("tab", name="Chat").click()
    msg = ask(page, "How many pedestrians came to the zebra crossing festival in Tallinn?")
    text = msg.inner_text()
    assert "nine thousand pedestrians" in text and EVIL_TITLE in text
    assert "<script>" in text and "onerror" in text  # shown as text
    msg.locator("details summary").first.click()
    time.sleep(0.3)  # let an injected handler fire if there were one
    no_injection(page)
    page.screenshot(path=ARTIFACTS / "chat-untrusted-article.png")


def test_a_bad_upload_gets_a_message_and_changes_nothing(page, web_app):
    before = web_app.library.articles()
    _library_tab(page)
    _upload(page, "photo.txt", b"\x89PNG\r\n\x1a\n" + bytes(200))
    page.locator("#qa-status").get_by_text("Not added").wait_for()
    assert "binary file" in page.locator("#qa-status").inner_text()
    assert web_app.library.articles() == before


def test_library_count_search_and_open(page, web_app):
    _library_tab(page)
    n = len(web_app.library.articles())
    sentences = sum(a["sentences"] for a in web_app.library.articles())
    page.locator("#qa-count").get_by_text(f"{n} articles").wait_for()
    assert f"{sentences} sentences" in page.locator("#qa-count").inner_text()
    search = page.locator("#qa-search").get_by_role("textbox")
    search.fill("moscow times")  # an outlet
    page.locator("#qa-page").get_by_text("1 match").wait_for()
    assert page.locator("#qa-list li").count() == 1
    assert "Lavrov" in page.locator("#qa-list li").inner_text()
    search.fill("paradoxical")  # a word of the text only
    page.locator("#qa-list li").get_by_text(CARD_TITLE).wait_for()
    assert page.locator("#qa-list li").count() == 1
    search.fill("nothing like this anywhere zzzq")
    page.get_by_text("No article matches that search.").wait_for()
    search.fill("")
    page.locator("#qa-list li").nth(n - 1).wait_for()
    page.locator("#qa-list a.qa-open", has_text=CARD_TITLE).click()
    page.locator("#qa-article h2", has_text=CARD_TITLE).wait_for()
    assert "Patrick Goodenough" in page.locator("#qa-article").inner_text()
    assert page.locator("#qa-article p").count() > 5  # the body, paragraph by paragraph
    page.screenshot(path=ARTIFACTS / "library-article.png", full_page=True)
    page.locator("#qa-back").click()
    page.locator("#qa-list").wait_for()


def test_upload_of_a_zip_with_one_bad_file(page, web_app):
    import io
    import zipfile
    before = len(web_app.library.articles())
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("batch/heron.txt", "Grey herons return to the Tartu river\n\nBy Test Desk | June 2, 2021\n\n"
                   "Forty grey herons nested along the Emajõgi this spring, the most since counting began, "
                   "said bird warden Liis Tamm.\n")
        z.writestr("batch/photo.png", b"\x89PNG\r\n\x1a\n" + bytes(100))
        z.writestr("../escape.txt", "Escaped names stay names\n\nThe warden counted the nests again in July.\n")
    _library_tab(page)
    page.locator("#qa-upload input[type=file]").set_input_files(
        files=[{"name": "batch.zip", "mimeType": "application/zip", "buffer": buf.getvalue()}])
    status = page.locator("#qa-status")
    status.get_by_text("Not added").wait_for()
    text = status.inner_text()
    assert "Added Grey herons return to the Tartu river" in text and "Added Escaped names stay names" in text
    assert "photo.png" in text and "not an article file" in text
    assert len(web_app.library.articles()) == before + 2
    page.locator("#qa-count").get_by_text(f"{before + 2} articles").wait_for()
    assert not (Path.cwd().parent / "escape.txt").exists()
    page.screenshot(path=ARTIFACTS / "library-zip-upload.png", full_page=True)
    no_injection(page)


def test_remove_from_the_article_view(page, web_app):
    _library_tab(page)
    page.locator("#qa-search").get_by_role("textbox").fill("zebra")
    page.locator("#qa-list a.qa-open", has_text=EVIL_TITLE).click()
    page.locator("#qa-article h2", has_text=EVIL_TITLE).wait_for()
    no_injection(page)
    page.locator("#qa-remove").click()
    page.locator("#qa-confirm").get_by_text("Remove").wait_for()
    page.locator("#qa-remove-no").click()  # cancel: nothing happens
    page.locator("#qa-confirm").wait_for(state="hidden")
    assert EVIL_TITLE in [a["title"] for a in web_app.library.articles()]
    page.locator("#qa-remove").click()
    page.locator("#qa-remove-yes").click()
    page.locator("#qa-status").get_by_text("Removed").wait_for()
    assert EVIL_TITLE not in [a["title"] for a in web_app.library.articles()]
    page.locator("#qa-list").get_by_text("No article matches that search.").wait_for()
    no_injection(page)


def test_an_article_title_offered_as_an_example_is_shown_not_run(browser, tmp_path, embedder):
    """Over a library other than the seeds the examples are article titles: untrusted text."""
    import app
    from qa import Library
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    title = 'Zebra <img src=x onerror="window.__pwned=5; alert(5)"> festival <b>opens</b>'
    (seeds / "z.txt").write_text(f"{title}\n\nBy Test Desk | May 4, 2021\n\nThe zebra crossing festival drew "
                                 "nine thousand pedestrians on its first day, organisers said.\n", "utf-8")
    library = Library(index_dir=tmp_path / "index", seeds_dir=seeds, embedder=embedder)
    assert app.examples_for(library) == ([title], "Start from a recent article")
    demo = app.build_app(library)
    url = app.serve(demo, "127.0.0.1", _free_port(), block=False)
    try:
        pg = browser.new_page()
        pg.set_default_timeout(TIMEOUT)
        pg.dialogs = []
        pg.on("dialog", lambda d: (pg.dialogs.append(d.message), d.dismiss()))
        pg.goto(url, wait_until="load")
        pg.get_by_text("Zebra", exact=False).first.click()  # fills the question box
        box = pg.locator("#qa-question").get_by_test_id("textbox")
        from playwright.sync_api import expect
        expect(box).to_have_value(title, timeout=TIMEOUT)
        box.press("Enter")
        pg.get_by_test_id("bot").first.locator("blockquote, strong").first.wait_for()
        assert pg.get_by_test_id("user").first.inner_text() == title  # shown as typed
        time.sleep(0.3)
        no_injection(pg)
        pg.close()
    finally:
        demo.close()


def _free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
