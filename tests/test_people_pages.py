"""People through the pages: a display name at sign-up, /settings, /people/<handle>, and privacy:
nobody but its owner ever receives an account's email."""

from __future__ import annotations

import asyncio
import json
import re
from datetime import UTC, datetime

import pytest
from quart import Quart
from quart.testing import QuartClient

from quart_chat.models import make_cursor
from quart_chat.web.context import app_services_of
from tests.conftest import User, csrf_from, make_client


async def sign_up(client: QuartClient, email: str, display_name: str | None = None):
    form = {"email": email, "password": "secret1", "csrf_token": await csrf_from(client, "/signup")}
    if display_name is not None:
        form["display_name"] = display_name
    return await client.post("/signup", form=form)


async def whoami(client: QuartClient) -> str:
    page = await (await client.get("/rooms/general")).get_data(as_text=True)
    return re.search(r'<a id="whoami" href="/settings">([^<]*)</a>', page).group(1)


async def settings_form(client: QuartClient) -> dict[str, str]:
    """The settings form's current values, as a browser would submit them."""
    page = await (await client.get("/settings")).get_data(as_text=True)
    return {
        "csrf_token": csrf_from_page(page),
        "display_name": re.search(r'name="display_name" value="([^"]*)"', page).group(1),
        "handle": re.search(r'name="handle" value="([^"]*)"', page).group(1),
        "colour": re.search(r'name="colour" value="([^"]*)" checked', page).group(1),
        "time_zone": re.search(r'<option value="([^"]*)" selected>', page).group(1),
    }


def csrf_from_page(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def error_at(page: str, field: str) -> str | None:
    found = re.search(rf'<p class="error" role="alert" id="{field}-error">([^<]*)</p>', page)
    return found.group(1) if found else None


# -- sign-up ---------------------------------------------------------------------------------


async def test_sign_up_with_a_display_name_makes_the_profile_before_the_redirect(app: Quart) -> None:
    client = make_client(app)
    page = await (await client.get("/signup")).get_data(as_text=True)
    assert 'name="display_name"' in page
    response = await sign_up(client, "ada@example.com", "  Ada   Lovelace ")
    assert response.status_code == 303 and response.location == "/rooms/general"
    made = await app_services_of(app).profiles.by_handle("ada-lovelace")  # before any other page
    assert made is not None and made.display_name == "Ada Lovelace"
    assert await whoami(client) == "Ada Lovelace"


@pytest.mark.parametrize("given", [None, "", "   "])
async def test_sign_up_without_a_display_name_uses_the_emails_local_part(app: Quart, given: str | None) -> None:
    client = make_client(app)
    assert (await sign_up(client, "grace.hopper@example.com", given)).status_code == 303
    assert await whoami(client) == "grace.hopper"
    assert (await app_services_of(app).profiles.by_handle("grace-hopper")).display_name == "grace.hopper"


@pytest.mark.parametrize(("bad", "says"), [("x" * 65, "at most 64"), ("Ada\u200bL", "invisible")])
async def test_a_bad_display_name_re_renders_at_its_field_and_makes_no_account(
    app: Quart, bad: str, says: str
) -> None:
    client = make_client(app)
    response = await sign_up(client, "ada@example.com", bad)
    assert response.status_code == 400
    page = await response.get_data(as_text=True)
    assert says in error_at(page, "display_name")
    assert 'value="ada@example.com"' in page and "secret1" not in page
    assert re.search(r'name="display_name"[^>]* autofocus', page)
    login = await client.post(
        "/login",
        form={"email": "ada@example.com", "password": "secret1", "csrf_token": await csrf_from(client, "/login")},
    )
    assert login.status_code == 401  # the identity provider was never asked


async def test_log_in_makes_the_profile_of_an_account_from_before_profiles(app: Quart) -> None:
    services = app_services_of(app)
    await services.identity.sign_up("old@example.com", "secret1")  # an account with no profile yet
    client = make_client(app)
    await User(client, "old@example.com", "secret1").log_in()
    made = await services.profiles.by_handle("old")  # made by the log-in itself, before any page
    assert made is not None and made.display_name == "old"


async def test_local_accounts_from_before_profiles_are_named_at_start_up(settings) -> None:
    """The SQLite stack's migration: accounts made before profiles get theirs when the app starts."""
    from quart_chat.app import create_app

    before = create_app(settings)
    async with before.test_app():
        identity = app_services_of(before).identity
        old = [(await identity.sign_up(email, "secret1")).identity for email in ("ada@example.com", "ada@example.org")]
        assert await app_services_of(before).profiles.get_many(i.uid for i in old) == {}
    after = create_app(settings)
    async with after.test_app():
        named = await app_services_of(after).profiles.get_many(i.uid for i in old)
    assert [(named[i.uid].display_name, named[i.uid].handle) for i in old] == [("ada", "ada"), ("ada", "ada-2")]


async def test_a_visitor_comes_back_to_settings_after_logging_in(app: Quart, ada: User) -> None:
    client = make_client(app)
    response = await client.get("/settings")
    assert response.status_code == 303 and response.location == "/login?next=/settings"
    form = {"email": ada.email, "password": ada.password, "next": "/settings"}
    response = await client.post("/login", form={**form, "csrf_token": await csrf_from(client, "/login")})
    assert response.status_code == 303 and response.location == "/settings"


# -- settings --------------------------------------------------------------------------------


async def test_settings_shows_the_owners_email_and_current_values(ada: User) -> None:
    response = await ada.client.get("/settings")
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert '<strong id="own-email">ada@example.com</strong>' in page
    values = await settings_form(ada.client)
    assert values["display_name"] == "ada" and values["handle"] == "ada" and values["time_zone"] == "UTC"
    assert re.search(r'class="colour-choice c-red"><input type="radio" name="colour" value="red"', page)
    assert "style=" not in page and "Saved." not in page


@pytest.mark.parametrize(
    ("field", "value", "shows"),
    [
        ("display_name", "Ada Lovelace", '<a id="whoami" href="/settings">Ada Lovelace</a>'),
        ("handle", "Countess", "@countess"),
        ("colour", "teal", 'value="teal" checked'),
        ("time_zone", "Europe/London", '<option value="Europe/London" selected>'),
    ],
)
async def test_each_setting_is_saved_and_the_page_says_so_once(ada: User, field: str, value: str, shows: str) -> None:
    form = await settings_form(ada.client)
    response = await ada.client.post("/settings", form={**form, field: value})
    assert response.status_code == 303 and response.location == "/settings"
    page = await (await ada.client.get("/settings")).get_data(as_text=True)
    assert '<p class="notice" role="status" id="notice">Saved.</p>' in page
    shown = page if field != "display_name" else await (await ada.client.get("/rooms/general")).get_data(as_text=True)
    assert shows in shown
    assert "Saved." not in await (await ada.client.get("/settings")).get_data(as_text=True)  # said once
    after = await settings_form(ada.client)
    assert after[field] == (value.lower() if field == "handle" else value)
    assert {k: v for k, v in after.items() if k not in (field, "csrf_token")} == {
        k: v for k, v in form.items() if k not in (field, "csrf_token")
    }


async def test_bad_settings_re_render_with_each_error_at_its_field(ada: User) -> None:
    form = await settings_form(ada.client)
    bad = {"display_name": "  ", "handle": "a", "colour": "plaid", "time_zone": "Mars/Olympus_Mons"}
    response = await ada.client.post("/settings", form={**form, **bad})
    assert response.status_code == 400
    page = await response.get_data(as_text=True)
    assert "Enter a display name" in error_at(page, "display_name")
    assert "2 to 32" in error_at(page, "handle")
    assert "listed colours" in error_at(page, "colour")
    assert "time zone" in error_at(page, "time_zone")
    assert 'name="handle" value="a"' in page  # what was typed is kept to be fixed
    assert await settings_form(ada.client) == form  # nothing saved


async def test_someone_elses_handle_in_any_case_is_taken_but_your_own_is_yours(ada: User, bob: User) -> None:
    form = await settings_form(bob.client)
    response = await bob.client.post("/settings", form={**form, "handle": "ADA"})
    assert response.status_code == 409
    assert error_at(await response.get_data(as_text=True), "handle") == "That handle is taken."
    assert (await settings_form(bob.client))["handle"] == "bob"
    mine = await settings_form(ada.client)
    assert (await ada.client.post("/settings", form={**mine, "handle": "@ADA"})).status_code == 303
    assert (await settings_form(ada.client))["handle"] == "ada"


async def test_settings_without_the_csrf_token_change_nothing(ada: User) -> None:
    form = await settings_form(ada.client)
    for token in (None, "forged"):
        forged = {k: v for k, v in form.items() if k != "csrf_token"} | {"display_name": "Eve"}
        if token:
            forged["csrf_token"] = token
        response = await ada.client.post("/settings", form=forged)
        assert response.status_code == 400 and "expired" in await response.get_data(as_text=True)
    assert (await settings_form(ada.client))["display_name"] == "ada"


# -- profile cards ---------------------------------------------------------------------------


async def test_a_profile_card_shows_name_handle_colour_and_joined_date(ada: User, bob: User) -> None:
    form = await settings_form(ada.client)
    await ada.client.post("/settings", form={**form, "display_name": "Ada Lovelace", "colour": "purple"})
    response = await bob.client.get("/people/ada")
    assert response.status_code == 200
    page = await response.get_data(as_text=True)
    assert '<h1 class="person-name" id="person-name">Ada Lovelace</h1>' in page and "@ada" in page
    assert 'class="card profile-card c-purple"' in page and "Purple" in page
    assert datetime.now(UTC).strftime("%Y") in page and 'href="/"' in page  # joined, and a way back
    assert "ada@example.com" not in page and "style=" not in page
    assert "This is you" not in page and "This is you" in await (await ada.client.get("/people/ada")).get_data(
        as_text=True
    )


async def test_a_card_is_found_in_any_case_at_one_url_and_unknown_handles_are_404(bob: User, ada: User) -> None:
    response = await bob.client.get("/people/ADA")
    assert response.status_code in (301, 308) and response.location == "/people/ada"
    missing = await bob.client.get("/people/nobody")
    assert missing.status_code == 404
    page = await missing.get_data(as_text=True)
    assert "Nobody here has the handle @nobody." in page and "Back to the chat" in page  # the app's own page


async def test_visitors_are_sent_to_log_in(client: QuartClient, ada: User) -> None:
    for method, path in (("GET", "/settings"), ("POST", "/settings"), ("GET", "/people/ada")):
        response = await client.open(path, method=method)
        assert response.status_code == 303 and response.location == f"/login?next={path}"


async def test_a_profile_store_that_fails_is_the_503_page_not_a_500(app: Quart, ada: User) -> None:
    await app_services_of(app).profiles.close()
    for path in ("/rooms/general", "/settings", "/people/ada"):
        response = await ada.client.get(path)
        assert response.status_code == 503, path
        assert "People&#39;s profiles are unavailable right now." in await response.get_data(as_text=True)


# -- privacy ---------------------------------------------------------------------------------


async def test_nobody_receives_another_persons_email(app: Quart) -> None:
    """Every frame and page these two receive, after both chatted live, typed and posted without
    JavaScript (rows, presence, typing, history, settings, the other's card, me.css): never the
    other's email, and only /settings shows their own."""
    ada = User(make_client(app), "ada.private@example.com")
    bob = User(make_client(app), "bob.private@example.org")
    assert (await sign_up(ada.client, ada.email, "Ada")).status_code == 303
    assert (await sign_up(bob.client, bob.email, "Bob")).status_code == 303
    frames: dict[str, list[str]] = {ada.email: [], bob.email: []}
    async with ada.socket() as a, bob.socket() as b:
        for ws, text in ((a, "hello from ada"), (b, "hello from bob")):
            await ws.send(json.dumps({"message": text[:5], "typing": "1", "headers": {}}))
            await ws.send(json.dumps({"message": text, "headers": {}}))
        for ws, who in ((a, ada), (b, bob)):
            async with asyncio.timeout(10):
                while "hello from bob" not in "".join(frames[who.email]) or (
                    "hello from ada" not in "".join(frames[who.email])
                ):
                    frames[who.email].append(await ws.receive_any_within(10))
    csrf = await csrf_from(bob.client, "/rooms/general")
    posted = await bob.client.post("/rooms/general/messages", form={"message": "no script", "csrf_token": csrf})
    assert posted.status_code == 303
    for me, other in ((ada, bob), (bob, ada)):
        live = "".join(frames[me.email])
        assert "Ada" in live and "Bob" in live  # the rows name both people...
        assert other.email not in live.lower() and me.email not in live.lower()  # ...and never by email
    cursor = make_cursor(datetime.now(UTC), "999999999")  # after every row: history shows them all
    for me, other, other_handle in ((ada, bob, "bob"), (bob, ada, "ada")):
        own_settings = ""
        for path in (
            "/rooms/general",
            f"/rooms/general/history?before={cursor}",
            "/settings",
            f"/people/{other_handle}",
            "/me.css",
            "/signup",
            "/login",
        ):
            response = await me.client.get(path)
            body = await response.get_data(as_text=True)
            if path.startswith("/rooms/general"):
                assert "hello from ada" in body and "no script" in body, path  # rows are on these pages
            assert other.email not in body.lower() and other.email.split("@")[1] not in body, (me.email, path)
            if path == "/settings":
                own_settings = body
            else:
                assert me.email not in body, (me.email, path)  # even their own: only settings shows it
        assert me.email in own_settings
