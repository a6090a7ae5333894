"""HTML that goes over the WebSocket: rows, and the htmx 4 partials that place them.

Every live frame is a list of ``<hx-partial>``/``<hx-upsert>`` elements, so
each says where it goes. Rows are upserted by id and kept sorted by their
``data-key`` (the store's cursor), which makes a resent row harmless: it
replaces itself instead of appearing twice, and order is the store's order on
every page whatever order frames arrive in.

A :class:`Renderer` needs a Jinja environment and nothing else: no running app, no request.
What a partial used to take from the request (``url_for``, ``csrf_token``) is passed in, so
the whole message path (validate, store, render, publish) runs, and is tested, without Quart.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import escape

from quart_chat import mentions, nonces
from quart_chat import rows as row_rules
from quart_chat.models import ZERO_CURSOR, Message, Profile
from quart_chat.people import DEFAULT_TIME_ZONE
from quart_chat.places import Place, is_conversation
from quart_chat.rows import Row
from quart_chat.sidebar import Entry

__all__ = ["ZERO_CURSOR", "Renderer", "new_client_id", "partial", "rows_partial"]


# Every element with hx-* attributes carries hx-nonce (hx-csp strips those without); what goes
# over a socket or into a page is rendered with the placeholder and stamped at the edge (nonces).
NONCE = f' hx-nonce="{nonces.PLACEHOLDER}"'


def new_client_id() -> str:
    """A fresh one-time id for a rendered composer (see ``validation.CLIENT_ID``)."""
    return secrets.token_urlsafe(16)


def rows_partial(rows: Iterable[str]) -> str:
    return f'<hx-upsert hx-target="#messages" key="data-key" sort{NONCE}>{"".join(rows)}</hx-upsert>'


def partial(target: str, html: str, swap: str = "outerHTML") -> str:
    return f'<hx-partial hx-target="{escape(target)}" hx-swap="{escape(swap)}"{NONCE}>{html}</hx-partial>'


def edit_href(message: Message, path: str | None) -> str:
    """Where a row's "Edit" link goes (shown to its author alone, by /me.css); "" for none.

    Every row carries it (rows are rendered once for everyone); the routes answer 403 to anyone
    else. A deleted row has nothing left to edit.
    """
    if message.deleted:
        return ""
    if path is None:
        if is_conversation(message.room):
            return ""
        path = f"/rooms/{message.room}"
    return f"{path}/messages/{message.id}/edit"


def package_environment() -> Environment:
    """The package's templates, escaped as Quart escapes them (.html): the same rows as the pages."""
    env = Environment(loader=PackageLoader("quart_chat"), autoescape=select_autoescape())
    env.globals["csp_nonce"] = lambda: nonces.PLACEHOLDER  # no request here: stamped at the edge
    return env


class Renderer:
    """The live partials, rendered synchronously from a template environment.

    Synchronous on purpose: the partials are small, do no I/O, and the sans-I/O live core
    (``live_protocol``) calls them without an event loop.
    """

    def __init__(self, env: Environment | None = None) -> None:
        self.env = env or package_environment()

    def _render(self, name: str, **values: object) -> str:
        return self.env.get_template(name).render(**values)

    def row(
        self,
        row: Row | Message,
        tz: str | ZoneInfo = DEFAULT_TIME_ZONE,
        *,
        now: datetime | None = None,
        path: str | None = None,
    ) -> str:
        """One message row in one viewer's zone; the same partial serves pages, history and live rows.

        A bare :class:`Message` is a row with no known predecessor, by its stored author name.
        ``now`` (default: the clock) only decides what "Today" and "Yesterday" are. ``path``: the
        viewer's path of the place (``Place.path``), where the row's "Edit" link points; a room's by
        default. A conversation's differs per viewer (``/dm/<the other one>``): without it, no link.
        """
        if isinstance(row, Message):
            row = Row(row, row_rules.author_of(row, {}))
        zone = tz if isinstance(tz, ZoneInfo) else row_rules.zone(tz)
        today = (now or datetime.now(UTC)).astimezone(zone).date()
        message = row.message
        return self._render(
            "chat/_message.html",
            m=message,
            r=row,
            a=row.author,
            t=row_rules.times(row, zone, today),
            tokens=mentions.tokens(message.text, dict(message.mentions)),
            mentioned=" ".join(mentions.mentioned_uids(message.mentions)),
            edit_href=edit_href(message, path),
        )

    def rows(
        self,
        rows: Iterable[Row],
        tz: str | ZoneInfo = DEFAULT_TIME_ZONE,
        *,
        now: datetime | None = None,
        path: str | None = None,
    ) -> str:
        """Rows joined, in one zone (a page, a history fragment, a catch-up)."""
        zone = tz if isinstance(tz, ZoneInfo) else row_rules.zone(tz)
        now = now or datetime.now(UTC)
        return "".join(self.row(r, zone, now=now, path=path) for r in rows)

    def status(self, state: str, reason: str = "", login_href: str | None = None) -> str:
        """A change of the live state: the badge, and #live-note's inside, which a screen reader
        announces (so this is sent when the state changes, not at every heartbeat)."""
        note = self._render("chat/_live_note.html", state=state, reason=reason, login_href=login_href)
        return self.heartbeat(state) + partial("#live-note", note, "innerHTML")

    def heartbeat(self, state: str = "live") -> str:
        """The badge alone (aria-hidden): re-sent every few seconds to restart its CSS animation."""
        return partial("#live-status", self._render("chat/_status.html", state=state))

    def signed_out(self, login_href: str) -> str:
        """The closing frame of a page whose session ended: said once with one "Log in again" link,
        the composer disabled and the top bar no longer "Signed in as…"."""
        return (
            self.status("closed", "You are signed out.", login_href)
            + partial("#composer", self._render("chat/_composer_off.html"))
            + partial("#account", self._render("chat/_account_off.html"))
            + partial("#logout", "", "delete")
        )

    def jump(self, has_new: bool) -> str:
        """The "Jump to the newest" link; ``has_new``: it says "New messages" (live rows came)."""
        return partial("#jump", self._render("chat/_jump.html", has_new=has_new))

    def composer(
        self,
        label: str,
        max_chars: int,
        *,
        action: str,
        csrf: str,
        client_id: str,
        peer: str = "",
        text: str = "",
        error: str = "",
        to_bottom: bool = False,
    ) -> str:
        """The composer ("Message #general") with a fresh one-time ``client_id`` (a re-sent frame lands
        once); ``peer``: a conversation's ``page_check``, which its no-JS post carries.

        Empty after a send, and then ``to_bottom`` also scrolls the sender's list to its newest row
        (htmx's ``show:bottom`` swap modifier on this partial: the row itself is rendered once for
        everyone, so it cannot carry one person's scroll). A refused send comes back with its
        ``text`` kept and the ``error`` beside it, so nothing typed is lost.
        """
        html = self._render(
            "chat/_composer.html",
            label=label,
            max_chars=max_chars,
            action=action,
            csrf=csrf,
            client_id=client_id,
            peer=peer,
            text=text,
            error=error,
        )
        return partial("#composer", html, "outerHTML show:bottom showTarget:#newest" if to_bottom else "outerHTML")

    def composer_error(self, error: str) -> str:
        return partial("#composer-error", self._render("chat/_composer_error.html", error=error))

    def presence(self, people: Iterable[Profile]) -> str:
        """Who is here now: one list per room, the same for everyone in it."""
        return partial("#presence", self._render("chat/_presence.html", people=list(people)), "innerHTML")

    def typing(self, typists: Iterable[Profile]) -> str:
        """Who is typing: one line per room; the typer's own entry is hidden from them by /me.css."""
        return partial("#typing", self._render("chat/_typing.html", typists=list(typists)), "innerHTML")

    def reset(self, place: Place, rows: list[Row], has_older: bool, tz: str | ZoneInfo = DEFAULT_TIME_ZONE) -> str:
        """Replace the whole message list: used when a reconnecting page is too far behind."""
        messages = [r.message for r in rows]
        older = self._render("chat/_older.html", place=place, messages=messages, has_older=has_older)
        return (
            partial("#messages", self.rows(rows, tz, path=place.path), "innerHTML")
            + partial("#older-rows", "", "innerHTML")
            + partial("#older", older)
        )

    def sidebar(self, entries: list[Entry], *, current: str, csrf: str, back: str) -> str:
        """The whole sidebar (after it was read again): its links, badges and leave forms."""
        html = self._render("chat/_sidebar.html", entries=entries, current=current, csrf=csrf, back=back)
        return partial("#sidebar", html)

    def sidebar_link(self, entry: Entry, *, current: str) -> str:
        """One link of the sidebar, with its counts: the small fragment a notice costs a page."""
        return partial(f"#{entry.dom_id}", self._render("chat/_sidebar_link.html", e=entry, current=current))

    def title(self, text: str) -> str:
        """The page's title: htmx 4 takes a ``<title>`` in a ``<head>`` of any swapped response (its
        ``swap()`` strips the head and sets ``document.title``; hx-ws swaps every frame), no script needed."""
        return f"<head><title>{escape(text)}</title></head>"
