"""What the live socket sends for reading and for screen readers, without a socket (the sans-I/O core),
and the app's own page for every error, 5xx included."""

from __future__ import annotations

import re

import pytest
from quart import Quart, abort

from quart_chat.app import create_app
from quart_chat.places import Place
from quart_chat.settings import Settings
from quart_chat.web import errors
from tests.test_live_protocol import LOGIN, RENDERER, connected, core, live, msg


def test_the_status_is_announced_when_it_changes_and_never_at_a_heartbeat() -> None:
    proto = core(heartbeat=5.0)
    first = connected(proto, [])
    assert first.count('hx-target="#live-note"') == 1 and "Live: new messages" in first  # said once
    assert 'class="live-status live" aria-hidden="true"' in first
    for now in (5.0, 10.0, 15.0):
        proto.woke([], now=now)
        beat = proto.data_to_send().frame
        assert 'class="live-status live"' in beat  # the badge's animation starts over
        assert "#live-note" not in beat and 'role="status"' not in beat  # nothing to announce


def test_live_rows_come_with_the_new_messages_link_and_heartbeats_without() -> None:
    proto = core(heartbeat=5.0)
    assert "#jump" not in connected(proto, [])
    proto.woke([live(msg(1))], now=1.0)
    frame = proto.data_to_send().frame
    assert frame.count('hx-target="#jump"') == 1 and "New messages" in frame
    proto.woke([], now=6.0)
    assert "#jump" not in proto.data_to_send().frame


def test_signing_out_closes_with_one_sentence_one_link_a_disabled_composer_and_no_account() -> None:
    proto = core()
    connected(proto, [])
    proto.close_requested(1008, "signed out")
    fragment = proto.closing.fragment
    assert fragment.count("You are signed out.") == 1 and fragment.count("Log in again") == 1
    assert fragment.count(LOGIN) == 1
    assert 'hx-target="#composer"' in fragment and "disabled" in fragment and "hx-ws:send" not in fragment
    assert 'hx-target="#account"' in fragment and "Signed out" in fragment and "Signed in as" not in fragment
    assert 'hx-target="#logout" hx-swap="delete"' in fragment


def test_a_reset_clears_the_older_rows_too() -> None:
    html = RENDERER.reset(Place.room("general"), [], has_older=False)
    assert re.search(r'hx-target="#older-rows" hx-swap="innerHTML"[^>]*></hx-partial>', html)


@pytest.fixture
async def failing_app(settings: Settings) -> Quart:
    """The real app with one extra route that fails with a given status, or crashes."""
    app = create_app(settings)

    @app.get("/fail/<int:code>")
    async def fail(code: int) -> str:
        if code == 0:
            raise RuntimeError("a bug")
        abort(code)

    async with app.test_app():
        yield app  # type: ignore[misc]


@pytest.mark.parametrize("code", [400, 403, 404, 409, 413, 429, 500, 503])
async def test_every_error_is_the_apps_styled_page_with_a_way_back(failing_app: Quart, code: int) -> None:
    response = await failing_app.test_client().get(f"/fail/{code}")
    page = await response.get_data(as_text=True)
    assert response.status_code == code
    assert '<main class="card">' in page and "/static/chat.css" in page
    assert f"<h1>{errors.PAGES[code][0]}</h1>" in page and "Back to the chat" in page


async def test_a_crash_is_the_apps_500_page(failing_app: Quart) -> None:
    failing_app.config["PROPAGATE_EXCEPTIONS"] = False
    response = await failing_app.test_client().get("/fail/0")
    page = await response.get_data(as_text=True)
    assert response.status_code == 500 and '<main class="card">' in page and "Something went wrong" in page
    assert "a bug" not in page  # nothing of the exception reaches the page


def test_every_code_the_app_answers_has_its_own_sentence() -> None:
    for code in (400, 403, 404, 405, 409, 413, 429, 500, 503):
        assert code in errors.PAGES
