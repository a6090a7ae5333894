"""Every page and form, through Quart's test client: the URLs, fields, redirects and statuses others rely on."""

import re
from dataclasses import replace

from quart import Quart
from quart.testing import QuartClient

from quart_chat.web.context import app_services_of
from tests.conftest import User, csrf_from, make_client


async def test_root_sends_visitors_to_login_and_users_to_general(client: QuartClient, ada: User) -> None:
    response = await client.get("/")
    assert response.status_code == 303 and response.location == "/login"
    response = await ada.client.get("/")
    assert response.status_code == 303 and response.location == "/rooms/general"


async def test_sign_up_page_has_the_contract_fields(client: QuartClient) -> None:
    page = await (await client.get("/signup")).get_data(as_text=True)
    for field in ('name="email"', 'name="password"', 'name="csrf_token"'):
        assert field in page


async def test_sign_up_signs_in_and_redirects_to_the_chat(client: QuartClient) -> None:
    token = await csrf_from(client, "/signup")
    response = await client.post(
        "/signup", form={"email": "Ada@Example.com", "password": "secret1", "csrf_token": token}
    )
    assert response.status_code == 303 and response.location == "/rooms/general"
    page = await (await client.get("/rooms/general")).get_data(as_text=True)
    # The top bar names the person (from the email's local part, no name given), never the email.
    assert re.search(r'id="whoami"[^>]*>Ada</a>', page) and "example.com" not in page.lower()


async def test_session_cookie_is_httponly_and_samesite(client: QuartClient) -> None:
    response = await client.get("/login")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


async def test_secure_cookies_when_configured(settings, tmp_path) -> None:
    from quart_chat.app import create_app

    app = create_app(replace(settings, secure_cookies=True))
    async with app.test_app():
        response = await app.test_client().get("/login")
    assert "Secure" in response.headers["Set-Cookie"]


async def test_sign_up_for_a_taken_email_does_not_say_it_is_registered(app: Quart, ada: User) -> None:
    """Issue 12, finding 11: the answer (in any letter case) confirms nothing; no second account is made."""
    client = make_client(app)
    token = await csrf_from(client, "/signup")
    response = await client.post(
        "/signup", form={"email": "ADA@example.com", "password": "another1", "csrf_token": token}
    )
    assert response.status_code == 400
    body = await response.get_data(as_text=True)
    assert "could not sign you up with that email and password" in body
    assert "registered" not in body and "already" not in body and "exists" not in body
    assert (await client.get("/")).headers["Location"] == "/login"  # not signed in


async def test_sign_up_for_a_taken_email_with_its_password_signs_in(app: Quart, ada: User) -> None:
    """The person proved the address is theirs: they land in the chat as themselves, one account still."""
    client = make_client(app)
    token = await csrf_from(client, "/signup")
    response = await client.post(
        "/signup", form={"email": "ada@example.com", "password": ada.password, "display_name": "X", "csrf_token": token}
    )
    assert response.status_code == 303 and response.headers["Location"] == "/rooms/general"
    settings_page = await (await client.get("/settings")).get_data(as_text=True)
    assert 'value="ada"' in settings_page  # ada's own profile, not a new one named "X"


async def test_weak_password_and_missing_fields_re_render_with_errors(client: QuartClient) -> None:
    token = await csrf_from(client, "/signup")
    weak = await client.post("/signup", form={"email": "x@example.com", "password": "12345", "csrf_token": token})
    assert weak.status_code == 400 and "at least 6 characters" in await weak.get_data(as_text=True)
    empty = await client.post("/signup", form={"email": "", "password": "", "csrf_token": token})
    assert empty.status_code == 400 and "Enter your email" in await empty.get_data(as_text=True)
    body = await weak.get_data(as_text=True)
    assert 'value="x@example.com"' in body and "12345" not in body  # keeps the email, never the password
    assert re.search(r'<input type="password"[^>]* autofocus>', body)  # the field to fix has the focus


async def test_wrong_password_and_unknown_email_look_the_same(app: Quart, ada: User) -> None:
    bodies = []
    for email, password in (("ada@example.com", "wrong horse"), ("nobody@example.com", "correct horse")):
        client = make_client(app)
        token = await csrf_from(client, "/login")
        response = await client.post("/login", form={"email": email, "password": password, "csrf_token": token})
        assert response.status_code == 401
        bodies.append(re.search(r'<p class="error"[^>]*>(.*?)</p>', await response.get_data(as_text=True)).group(1))
    assert bodies[0] == bodies[1] == "Wrong email or password."


async def test_login_then_logout(app: Quart, ada: User) -> None:
    client = make_client(app)
    user = await User(client, ada.email).log_in()
    assert (await client.get("/rooms/general")).status_code == 200
    token = await csrf_from(client, "/rooms/general")
    response = await client.post("/logout", form={"csrf_token": token})
    assert response.status_code == 303 and response.location == "/login"
    response = await user.client.get("/rooms/general")
    assert response.status_code == 303 and response.location.startswith("/login")


async def test_posts_without_the_csrf_token_change_nothing(app: Quart, ada: User) -> None:
    client = make_client(app)
    await client.get("/signup")
    forged = await client.post("/signup", form={"email": "eve@example.com", "password": "secret1"})
    assert forged.status_code == 400 and "expired" in await forged.get_data(as_text=True)
    token = await csrf_from(client, "/login")
    login = await client.post("/login", form={"email": "eve@example.com", "password": "secret1", "csrf_token": token})
    assert login.status_code == 401  # the account was not made
    logout = await ada.client.post("/logout", form={"csrf_token": "forged"})
    assert logout.status_code == 400
    assert (await ada.client.get("/rooms/general")).status_code == 200  # still signed in


async def test_forged_session_cookie_is_not_a_user(app: Quart) -> None:
    client = make_client(app)
    client.set_cookie("localhost", "quart_chat_session", "eyJ0b2siOiJhYmMifQ.forged.signature")
    response = await client.get("/rooms/general")
    assert response.status_code == 303 and response.location.startswith("/login")


async def test_visitors_are_sent_to_log_in_and_back_to_the_room(client: QuartClient) -> None:
    for method, path in (
        ("GET", "/rooms/general"),
        ("GET", "/rooms/general/history?before=garbage"),
        ("POST", "/rooms/general/messages"),
    ):
        response = await client.open(path, method=method)
        assert response.status_code == 303 and response.location == "/login?next=/rooms/general"


async def test_room_names_in_the_address_bar_go_to_the_rooms_one_address(ada: User) -> None:
    for typed, name in (("General", "general"), ("a_b", "a-b"), ("Design%20Team", "design-team")):
        response = await ada.client.get(f"/rooms/{typed}")
        assert response.status_code == 308 and response.location == f"/rooms/{name}", typed
    for bad in ("x" * 33, "%2e%2e", "%E6%97%A5", "General/history"):
        response = await ada.client.get(f"/rooms/{bad}")
        assert response.status_code == 404, bad
    assert "1 to 32 letters, digits or dashes" in await (await ada.client.get("/rooms/" + "x" * 33)).get_data(
        as_text=True
    )
    assert (await ada.client.get("/rooms/dev-ops-2")).status_code == 200


async def test_room_switcher_normalises_and_redirects(ada: User) -> None:
    for typed, name in (("%23Random", "random"), ("%23Design%20Team", "design-team"), ("Design", "design")):
        response = await ada.client.get(f"/rooms?name={typed}")
        assert response.status_code == 303 and response.location == f"/rooms/{name}"
    refused = await ada.client.get("/rooms?name=%23%23%23")
    page = await refused.get_data(as_text=True)
    assert refused.status_code == 400 and "1 to 32 letters, digits or dashes" in page and 'id="room-list"' not in page


async def test_pages_carry_a_strict_csp_and_no_inline_script(ada: User) -> None:
    response = await ada.client.get("/rooms/general")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    page = await response.get_data(as_text=True)
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, re.S)
    assert scripts and all('src="/static/vendor/htmx/' in attrs and not body.strip() for attrs, body in scripts)
    assert not re.search(r"\son[a-z]+=", page) and "style=" not in page


async def test_room_page_shows_composer_history_and_who_is_signed_in(ada: User) -> None:
    page = await ada.room_page()
    assert 'hx-ws:connect="/rooms/general/ws?after=' in page
    assert 'id="composer"' in page and "hx-ws:send" in page
    assert "Signed in as" in page and re.search(r'<a id="whoami" href="/settings">ada</a>', page)
    assert "ada@example.com" not in page
    assert 'Times in <a href="/settings">UTC</a>' in page  # the viewer's zone, changed in settings


async def test_history_escapes_user_text(app: Quart, ada: User) -> None:
    from quart_chat.messaging import send_message
    from quart_chat.models import Identity

    services = app_services_of(app)
    async with app.app_context():
        await send_message(services, "general", Identity("u1", "eve@example.com"), "<script>alert(1)</script>")
    page = await ada.room_page()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert(1)" not in page


async def test_room_shows_the_last_page_and_older_history_pages_back(app: Quart, ada: User, settings) -> None:
    services = app_services_of(app)
    total = settings.history_page_size + 7
    for i in range(total):
        await services.store.add("general", "u1", "x@example.com", f"message {i:03d}")
    page = await ada.room_page()
    assert "message 006" not in page and "message 007" in page and f"message {total - 1:03d}" in page
    link = re.search(r'href="(/rooms/general/history\?before=[^"]+)"', page).group(1)
    fragment = await (await ada.client.get(link, headers={"HX-Request": "true"})).get_data(as_text=True)
    assert "<hx-upsert" in fragment and "message 000" in fragment and "message 006" in fragment
    assert "message 007" not in fragment and "beginning of #general" in fragment
    full = await ada.client.get(link)
    assert "<!doctype html>" in (await full.get_data(as_text=True)).lower()
    assert (await ada.client.get("/rooms/general/history?before=garbage")).status_code == 400


async def test_message_form_works_without_javascript(ada: User, bob: User) -> None:
    token = await csrf_from(ada.client, "/rooms/general")
    response = await ada.client.post("/rooms/general/messages", form={"message": " no js here ", "csrf_token": token})
    assert response.status_code == 303 and response.location == "/rooms/general"
    assert "no js here" in await bob.room_page()
    forged = await ada.client.post("/rooms/general/messages", form={"message": "forged"})
    assert forged.status_code == 400 and "forged" not in await bob.room_page()


async def test_my_style_marks_only_my_rows(ada: User, client: QuartClient) -> None:
    css = await (await ada.client.get("/me.css")).get_data(as_text=True)
    assert '.msg[data-author="' in css
    assert await (await client.get("/me.css")).get_data(as_text=True) == ""


async def test_healthz_and_readyz(client: QuartClient, app: Quart) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and (await response.get_json())["store"] == "ok"
    assert (await client.get("/readyz")).status_code == 200
    await app_services_of(app).store.close()
    response = await client.get("/healthz")
    assert response.status_code == 503 and (await response.get_json())["store"] == "unreachable"


async def test_favicon_is_served(client: QuartClient) -> None:
    assert (await client.get("/favicon.ico")).status_code == 200
    assert (await client.get("/static/favicon.svg")).status_code == 200


async def test_message_form_applies_the_same_text_rules_as_the_websocket(ada: User, bob: User, settings) -> None:
    token = await csrf_from(ada.client, "/rooms/general")
    too_long = "x" * (settings.max_message_chars + 1)
    for text, says in ((too_long, "Message too long"), ("bell\x07", "control characters")):
        response = await ada.client.post("/rooms/general/messages", form={"message": text, "csrf_token": token})
        assert response.status_code == 400 and says in await response.get_data(as_text=True)
    assert 'class="msg"' not in await bob.room_page()  # nothing was stored
