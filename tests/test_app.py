"""The web chat's API contract (gradio_client against app.py served in-process) and its escaping."""

import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import app  # noqa: E402
from web import library_view  # noqa: E402

CARD_QUESTION = "Why isn't Russia in the coalition?"
CARD_QUOTE = "not a member of the U.S.-led anti-ISIS coalition"
POWER_QUESTION = "What did Samantha Power say about Assad?"
FOLLOW_UP = "And what did she say about ISIL?"


@pytest.fixture(scope="module")
def client(web_app):
    from gradio_client import Client
    return Client(web_app.url, verbose=False)


def quotes_of(markdown: str) -> list[str]:
    return re.findall(r"<blockquote[^>]*>(.*?)</blockquote>", markdown, re.S)


# ------------------------------------------------------------------ API

def test_both_endpoints_are_named(client):
    assert {"/chat", "/ask"} <= set(client.view_api(print_info=False, return_format="dict")["named_endpoints"])


def test_chat_answers_the_card_question_with_the_message_alone(client):
    md = client.predict(CARD_QUESTION, api_name="/chat")
    assert isinstance(md, str)
    quotes = quotes_of(md)
    assert 1 <= len(quotes) <= 3 and CARD_QUOTE in quotes[0]  # k=3 is a maximum, not a quota
    assert "Russian FM: We and the US Are Arming Opposing Sides in Syrian Conflict" in md
    assert "<mark>" in md  # the paragraph, with the quoted sentence marked


def test_ask_returns_answer_to_dict(client, web_app):
    d = client.predict(CARD_QUESTION, api_name="/ask")
    assert d == web_app.library.ask(CARD_QUESTION).to_dict()
    assert set(d) == {"question", "answered", "quotes", "query"} and d["answered"] is True
    q = d["quotes"][0]
    assert CARD_QUOTE in q["text"]
    assert set(q) == {"text", "score", "context", "article", "start", "end", "context_start",
                      "kind", "speaker", "speaker_title", "dates", "sources", "also_in", "answers"}
    assert set(q["article"]) == {"id", "title", "byline", "date", "url"}
    assert q["context"][q["start"] - q["context_start"]:q["end"] - q["context_start"]] == q["text"]


def test_chat_follow_up_uses_the_conversation(web_app):
    from gradio_client import Client
    c = Client(web_app.url, verbose=False)  # its own session, so its own chat history
    c.predict(POWER_QUESTION, api_name="/chat")
    md = c.predict(FOLLOW_UP, api_name="/chat")
    first = quotes_of(md)[0]
    assert "ISIL" in first and "Power" in first
    assert "Read as a follow-up" in md


def test_ask_follow_up_with_history(client):
    d = client.predict(FOLLOW_UP, [POWER_QUESTION], api_name="/ask")
    assert "Power" in d["query"]
    assert "ISIL" in d["quotes"][0]["text"] and "Power" in d["quotes"][0]["text"]


def test_too_long_question_gets_the_library_message(client):
    from gradio_client.exceptions import AppError
    md = client.predict("why " * 300, api_name="/chat")
    assert "too long" in md and not quotes_of(md)
    with pytest.raises(AppError, match="too long"):
        client.predict("why " * 300, api_name="/ask")


def test_unanswerable_question_says_so_and_collapses_the_closest(client):
    md = client.predict("What is a good recipe for pancakes?", api_name="/chat")
    assert md.startswith("**The articles don't say.**")
    assert '<details class="qa-closest">' in md and md.index("<details") < md.index("<blockquote")


# ------------------------------------------------------------------ rendering and escaping

EVIL = ('Officials <script>window.pwned=1</script> said <img src=x onerror="alert(1)"> '
        '[click](javascript:alert(2)) ![x](http://evil.test/x.png) <a href="javascript:alert(3)">a</a>')


def _answer(text: str, url=None, answered=True) -> dict:
    article = {"id": "a", "title": f"T {text}", "byline": text, "date": "2020-01-01", "url": url}
    ctx = "Before. " + text + " After."
    return {"question": text, "answered": answered, "query": text + " again",
            "quotes": [{"text": text, "score": 0.9, "context": ctx, "article": article,
                        "start": 108, "end": 108 + len(text), "context_start": 100}]}


def test_render_escapes_article_and_question_text():
    md = app.render(_answer(EVIL, url="javascript:alert(4)"))
    for bad in ("<script", "<img", "<a href=\"javascript", "](javascript", "![x](", "javascript:alert(4)"):
        assert bad not in md
    assert "&lt;script&gt;" in md and "<mark>" in md  # shown as text, the quote still marked


def test_source_links_only_http_urls():
    assert 'href="https://example.com/a?b=1&amp;c=2"' in app.render(_answer("x", url="https://example.com/a?b=1&c=2"))
    for url in ("javascript:alert(1)", "data:text/html,<b>", "http://x\" onmouseover=\"alert(1)", "//evil.test"):
        md = app.render(_answer("x", url=url))
        # The only links left are the page's own in-page actions (open in article, copy with citation).
        assert re.findall(r"<a [^>]*>", md) == re.findall(r'<a href="#qa-[^"]*" class="qa-(?:open|copy)">', md)
        assert "javascript" not in md and "onmouseover" not in md and "evil.test" not in md


@given(st.text())
def test_escaped_text_has_no_markup(text):
    s = app.esc(text)
    assert not set(s) & set("<>\"'[]`*_|~\\\n")


def test_history_takes_the_user_questions_from_gradio_messages():
    history = [{"role": "user", "content": [{"type": "text", "text": POWER_QUESTION}]},
               {"role": "assistant", "content": [{"type": "text", "text": "> quote"}]},
               {"role": "user", "content": "plain string"},
               {"role": "user", "content": [{"type": "text", "text": app.esc("Is <b>[x]</b> & y_z?")}]}]
    assert app.previous_questions(history) == [POWER_QUESTION, "plain string", "Is <b>[x]</b> & y_z?"]


def test_oversized_upload_is_refused_before_reading(tmp_path):
    big = tmp_path / "big.txt"
    with big.open("wb") as f:
        f.truncate(app.MAX_UPLOAD_MB * 1024 * 1024 + 1)
    files, refused = library_view.read_uploads([str(big)])
    assert files == [] and refused == [("big.txt", f"larger than {app.MAX_UPLOAD_MB} MB")]
    assert "big.txt" in library_view.report([], refused) and "Nothing was changed" in library_view.report([], refused)


# ------------------------------------------------------------------ access

@pytest.mark.parametrize("host,auth_env,expect_auth,writable", [
    ("127.0.0.1", "", None, True),
    ("localhost", "", None, True),
    ("0.0.0.0", "", None, False),
    ("192.0.2.10", "", None, False),
    ("0.0.0.0", "ed:s3cret", [("ed", "s3cret")], True),
    ("127.0.0.1", "ed:s3cret", [("ed", "s3cret")], True),
    ("0.0.0.0", "no-password", None, False),
])
def test_access_by_bind_address(monkeypatch, host, auth_env, expect_auth, writable):
    monkeypatch.setenv("QA_AUTH", auth_env)
    auth, can_write, notice = app.access(host)
    assert auth == expect_auth and can_write is writable
    if not writable:
        assert "read-only" in notice and "QA_AUTH" in notice


def test_read_only_app_refuses_changes(web_app):
    demo = app.build_app(web_app.library, writable=False)
    fns = {getattr(b.fn, "__name__", ""): b.fn for b in demo.fns.values()}
    before = web_app.library.articles()
    state = {"id": before[0]["id"], "from": "list"}
    _, _, status = fns["ask_remove"](state)
    assert "read-only" in status
    status, *_ = fns["remove"](state, "", "newest", 1)
    assert "read-only" in status
    status, *_ = fns["add"](["/etc/hostname"], "", "newest")
    assert "read-only" in status
    assert web_app.library.articles() == before


# ------------------------------------------------------------------ speakers, dates, filters

def test_chat_shows_who_said_it(client):
    md = client.predict("What did Power say about Assad?", api_name="/chat")
    assert "— Samantha Power, U.S. Ambassador to the U.N." in md
    md = client.predict("What did Lavrov urge Western governments to do about Assad?", api_name="/chat")
    assert "“on Monday” = 25 Aug 2014" in md


def test_filters_through_chat_and_ask(client):
    md = client.predict("What was said about the regime?", "Power", "", "", "", api_name="/chat")
    assert md.count("— Samantha Power") == len(quotes_of(md)) > 0
    d = client.predict("What did Lavrov say?", None, None, "moscow times", None, None, api_name="/ask")
    assert d["quotes"] and {q["article"]["byline"] for q in d["quotes"]} == {"The Moscow Times"}


def test_speaker_and_source_text_is_escaped():
    q = {"text": "x", "score": 1.0, "context": "x", "start": 0, "end": 1, "context_start": 0, "kind": "quote",
         "speaker": "<img src=x onerror=alert(1)>", "speaker_title": "[a](javascript:alert(1))",
         "dates": [{"phrase": "<b>Monday</b>", "date": "2014-08-25"}], "sources": 2,
         "also_in": [{"title": "<script>t</script>", "byline": None, "date": None}],
         "article": {"id": "a", "title": "t", "byline": None, "date": None, "url": "javascript:alert(1)"}}
    html_out = app.render({"question": "q", "answered": True, "quotes": [q], "query": "q"})
    assert "<img" not in html_out and "<script" not in html_out and "<b>" not in html_out
    # "javascript:" may be shown as text (escaped, its brackets entities); no link goes anywhere but the page's own
    assert all(h.startswith("#qa-") for h in re.findall(r'href="([^"]*)"', html_out))
    assert 'href="javascript' not in html_out and "](javascript" not in html_out


# ------------------------------------------------------------------ fitting the library

def test_answer_header_counts_quotes_and_articles(client):
    md = client.predict(CARD_QUESTION, api_name="/chat")
    n = len(quotes_of(md))  # k=3 is a maximum: the quotes that clear the bar after the first
    assert n >= 2 and f'<p class="qa-head">{n} quotes from 1 article</p>' in md
    assert "qa-head" not in client.predict("What is the capital of Australia?", api_name="/chat")


def test_examples_fit_the_library(web_app, bbc_slice_index_dir, bbc_slice_dir, embedder):
    from qa import Library
    assert app.examples_for(web_app.library) == (app.EXAMPLES, "Try asking")
    bbc = Library(index_dir=bbc_slice_index_dir, seeds_dir=bbc_slice_dir, embedder=embedder)
    examples, label = app.examples_for(bbc)
    titles = {a["title"] for a in bbc.articles()}
    assert len(examples) == 3 and set(examples) <= titles and label
    assert not set(examples) & set(app.EXAMPLES)
