"""Composing against a real server (Hypercorn, SQLite, real sockets and forms): line breaks kept,
over-limit text refused with the text given back (never cut), links, the rate-limit answer, and
the sender's composer that scrolls their list to the newest row."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from tests.support.http_user import RemoteUser, collect_rows, say
from tests.support.server import ChatServer

pytestmark = pytest.mark.server

COMPOSER_TEXT = re.compile(r'<textarea id="message"[^>]*>(.*?)</textarea>', re.S)
NOT_SENT_TEXT = re.compile(r'<textarea name="message"[^>]*>(.*?)</textarea>', re.S)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChatServer]:
    srv = ChatServer(tmp_path_factory.mktemp("composer") / "data", CHAT_MESSAGE_BURST="4").start()
    yield srv
    srv.kill()


async def frames_until(ws, seen: str, limit: int = 20) -> str:
    got = ""
    for _ in range(limit):
        got += str(await ws.recv())
        if seen in got:
            return got
    raise AssertionError(f"{seen!r} never came; got {got[-2000:]!r}")


def kept_in_composer(frame: str) -> str:
    match = COMPOSER_TEXT.search(frame)
    assert match, frame[-2000:]
    return html.unescape(match.group(1))


async def test_lines_over_the_socket_and_the_senders_composer_scrolls_to_the_newest(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada-lines@example.com").sign_up()
    async with ada.socket("lines") as ws:
        await say(ws, "one\ntwo\r\nthree")
        frame = await frames_until(ws, 'hx-target="#composer"')
        assert 'hx-swap="outerHTML show:bottom showTarget:#newest"' in frame
        rows = await collect_rows(ws, 1) if "three" not in frame else []
        texts = [text for _, text in rows] + re.findall(r'<span class="text">(.*?)</span>', frame, re.S)
        assert "one\ntwo\nthree" in texts
    page = (await ada.http.get("/rooms/lines")).text
    assert '<span class="text">one\ntwo\nthree</span>' in page  # stored and shown with its line breaks
    await ada.close()


async def test_over_the_limit_over_the_socket_is_refused_whole_and_the_text_kept(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada-long@example.com").sign_up()
    typed = "<b>" + "y" * 2497  # 2,500 characters, markup in it too
    async with ada.socket("long") as ws:
        await say(ws, typed)
        frame = await frames_until(ws, "Message too long")
        assert "Message too long: 2500 characters, the limit is 2000." in frame
        assert 'role="alert"' in frame
        assert kept_in_composer(frame) == typed  # whole: nothing cut
        assert "&lt;b&gt;" in frame and "<b>y" not in frame
        assert "maxlength" not in frame
    page = (await ada.http.get("/rooms/long")).text
    assert "yyyy" not in page  # nothing stored
    await ada.close()


async def test_over_the_limit_without_javascript_is_refused_with_the_text_kept(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada-post@example.com").sign_up()
    typed = "z" * 2500
    refused = await ada.post_form("/rooms/post/messages", {"message": typed}, page="/rooms/post")
    assert refused.status_code == 400
    assert "Message too long: 2500 characters, the limit is 2000." in refused.text
    kept = NOT_SENT_TEXT.search(refused.text)
    assert kept and html.unescape(kept.group(1)) == typed and "maxlength" not in refused.text
    sent = await ada.post_form("/rooms/post/messages", {"message": "a\r\nb\nc"}, page="/rooms/post")
    assert sent.status_code == 303
    page = (await ada.http.get("/rooms/post")).text
    assert '<span class="text">a\nb\nc</span>' in page and "zzzz" not in page
    await ada.close()


async def test_links_are_safe_and_only_http(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada-links@example.com").sign_up()
    async with ada.socket("links") as ws:
        await say(ws, 'go https://example.com/x?a=1&b="2" or javascript:alert(1) <a href="javascript:x">y</a>')
        await collect_rows(ws, 1)
    page = (await ada.http.get("/rooms/links")).text
    span = re.search(r'<span class="text">(go .*?)</span>', page, re.S)
    assert span, page
    href = "https://example.com/x?a=1&amp;b=&#34;2&#34;"  # quotes in an address are escaped, never closing it
    assert re.findall(r"<a [^>]*>", span.group(1)) == [
        f'<a class="link" href="{href}" rel="noopener noreferrer nofollow ugc" target="_blank">'
    ]
    assert "&lt;a href=&#34;javascript:x&#34;&gt;" in span.group(1)
    await ada.close()


async def test_too_fast_keeps_the_text_in_the_composer_with_an_alert(server: ChatServer) -> None:
    ada = await RemoteUser(server.base, "ada-fast@example.com").sign_up()
    async with ada.socket("fast") as ws:
        for i in range(8):  # the burst is 4
            await say(ws, f"burst {i}")
        frame = await frames_until(ws, "too fast", limit=60)
        refused = kept_in_composer(frame[frame.rindex("<hx-partial", 0, frame.index("too fast")) :])
        assert refused.startswith("burst ") and int(refused.split()[1]) >= 4
        assert 'role="alert"' in frame
    page = (await ada.http.get("/rooms/fast")).text
    assert f'<span class="text">{refused}</span>' not in page  # refused, not stored
    refused_post = await ada.post_form("/rooms/fast/messages", {"message": "by form\ntoo"}, page="/rooms/fast")
    assert refused_post.status_code == 429 and "You are sending too fast" in refused_post.text
    kept = NOT_SENT_TEXT.search(refused_post.text)
    assert kept and html.unescape(kept.group(1)) == "by form\ntoo"
    await ada.close()
