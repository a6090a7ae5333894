"""Bounded rooms and memberships, through the app on a real SQLite store: a rate on making rooms and on
joining new ones (429 with Retry-After), a cap on a sidebar's rooms that conversations never meet."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from quart import Quart

from quart_chat.settings import Settings
from quart_chat.web.context import app_services_of
from tests.conftest import User
from tests.test_rooms_pages import post, say, sidebar


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        secret_key="test-secret-key-" + "x" * 32,
        rooms_per_hour=2,
        joins_per_hour=4,
        max_memberships=3,
    )


async def rooms_of(app: Quart, user: User) -> list[str]:
    uid = (await app_services_of(app).profiles.by_handle(user.email.split("@")[0])).uid
    return sorted(m.place for m in await app_services_of(app).rooms.memberships(uid))


async def test_making_rooms_is_rate_limited_per_person_with_retry_after(app: Quart, ada: User, bob: User) -> None:
    for name in ("one", "two"):
        assert (await post(ada, "/rooms", {"name": name, "topic": ""})).status_code == 303
    again = await post(ada, "/rooms", {"name": "one", "topic": ""})  # an existing room: opened, not counted
    assert again.status_code == 303 and again.location == "/rooms/one"
    refused = await post(ada, "/rooms", {"name": "three", "topic": ""})
    assert refused.status_code == 429
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= 1800
    page = await refused.get_data(as_text=True)
    assert f"You made many rooms in a short time. Wait {wait} s, then try again." in page
    assert await app_services_of(app).rooms.room("three") is None
    assert (await post(bob, "/rooms", {"name": "three", "topic": ""})).status_code == 303  # her limit, not his


async def test_joining_new_rooms_is_rate_limited_and_a_conversation_never_is(app: Quart, ada: User, bob: User) -> None:
    services = app_services_of(app)
    services.joins = dataclasses.replace(services.joins, max_rooms=100)  # the cap out of the way: the rate alone
    for room in ("r1", "r2", "r3", "r4"):
        await ada.room_page(room)
    refused = await ada.client.get("/rooms/r5")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "You opened many new rooms in a short time." in await refused.get_data(as_text=True)
    assert await rooms_of(app, ada) == ["r1", "r2", "r3", "r4"]
    await ada.room_page("r1")  # a room already joined opens as ever
    page = await ada.client.get("/dm/bob")  # a conversation: not a join the rate counts
    assert page.status_code == 200


async def test_past_the_cap_a_room_opens_without_joining_and_conversations_still_arrive(
    app: Quart, ada: User, bob: User
) -> None:
    for room in ("r1", "r2", "r3"):
        await ada.room_page(room)
    page = await ada.room_page("r4")  # shown, readable and writable, not joined
    assert 'id="not-joined"' in page and "You are in 3 rooms, the most one may be in" in page
    assert "/rooms/r4" not in sidebar(page)
    await say(ada, "/rooms/r4", "hello from outside")  # posting does not join it either
    assert await rooms_of(app, ada) == ["r1", "r2", "r3"]
    await say(bob, "/dm/ada", "psst")  # a conversation addressed to her is never held back by the cap
    mine = await rooms_of(app, ada)
    assert len(mine) == 4 and [p for p in mine if p.startswith("r")] == ["r1", "r2", "r3"]
    assert "/dm/bob" in sidebar(await ada.room_page("r1"))
    assert (await post(ada, "/rooms/r1/leave", {}, page="/rooms/r2")).status_code == 303
    assert 'id="not-joined"' not in await ada.room_page("r4")  # room again under the cap: joined
    assert "r4" in await rooms_of(app, ada)
