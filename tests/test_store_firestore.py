"""The store contract against the real Cloud Firestore emulator, plus Firestore-only checks."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.emulators import require_firebase_extra

require_firebase_extra()
pytestmark = pytest.mark.firebase

from quart_chat.places import conversation_key  # noqa: E402
from quart_chat.settings import SettingsError  # noqa: E402
from quart_chat.store import StoreError  # noqa: E402
from quart_chat.store.firestore import FirestoreStore, id_for  # noqa: E402
from quart_chat.store.firestore_rooms import INDEXES, membership_id  # noqa: E402
from tests.contracts.room_contract import RoomContract  # noqa: E402
from tests.contracts.store_contract import EditContract, StoreContract  # noqa: E402
from tests.support.emulators import PROJECT_ID, Emulator, opened_on_emulator  # noqa: E402
from tests.support.net import free_port  # noqa: E402


@pytest.fixture
async def store(firestore_env: Emulator) -> AsyncIterator[FirestoreStore]:
    async with opened_on_emulator(FirestoreStore) as s:
        yield s


class TestFirestoreRooms(RoomContract):
    """The room store's contract on the emulator, plus its layout and its coarse "last active"."""

    async def test_documents_live_where_docs_firebase_md_says(self, store: FirestoreStore) -> None:
        dm = conversation_key(b"k", "u1", "u2")
        await store.create_room("design", "Type")
        await store.add(dm, "u1", "Ada", "between us", mentions=[("bob", "u2")])
        await store.join("u2", dm, partner="u1")
        assert (await store.client.document("rooms/design").get()).to_dict()["topic"] == "Type"
        (stored,) = [s.to_dict() async for s in store.client.collection(f"conversations/{dm}/messages").stream()]
        assert stored["mentions"] == ["u2"] and stored["mention_handles"] == ["bob"]
        assert not (await store.client.document(f"rooms/{dm}").get()).exists  # never listed
        member = (await store.client.document(f"memberships/{membership_id('u2', dm)}").get()).to_dict()
        assert (member["uid"], member["place"], member["partner"]) == ("u2", dm, "u1")

    async def test_a_busy_room_is_marked_active_at_most_once_per_interval(self, store: FirestoreStore) -> None:
        await store.add("busy", "u1", "Ada", "first")
        first = (await store.room("busy")).last_active
        await store.add("busy", "u1", "Ada", "second")  # within TOUCH_INTERVAL: no second write
        assert (await store.room("busy")).last_active == first
        store.touch_interval = 0
        latest = await store.add("busy", "u1", "Ada", "third")
        assert (await store.room("busy")).last_active >= latest.created_at


class TestFirestoreStore(StoreContract, EditContract):
    async def test_documents_live_at_rooms_room_messages_id(self, store: FirestoreStore) -> None:
        msg = await store.add("general", "u1", "ada@example.com", "hi", message_id="client-1")
        assert msg.id == id_for("client-1") and len(msg.id) == 32
        snap = await store.client.document(f"rooms/general/messages/{msg.id}").get()
        assert snap.to_dict()["text"] == "hi" and snap.to_dict()["author_uid"] == "u1"

    async def test_equal_timestamps_order_by_id_and_cursor_alike(self, store: FirestoreStore) -> None:
        # Several writes in one batch share one commit time: the id must break the tie
        # the same way in Firestore's order and in the cursor's string order.
        from google.cloud.firestore import SERVER_TIMESTAMP

        batch = store.client.batch()
        coll = store.client.collection("rooms/tie/messages")
        for i in range(8):
            batch.create(
                coll.document(id_for(f"tie-{i}")),
                {"author_uid": "u", "author_name": "x", "text": f"t{i}", "created_at": SERVER_TIMESTAMP},
            )
        await batch.commit()
        rows = await store.latest("tie", 100)
        assert len({m.created_at for m in rows}) == 1
        assert [m.cursor for m in rows] == sorted(m.cursor for m in rows)
        assert [m.id for m in rows] == sorted(m.id for m in rows)
        # Paging through the tie by cursor visits each message exactly once.
        seen, page = [], await store.latest("tie", 3)
        while page:
            seen = page + seen
            page = await store.before("tie", page[0].cursor, 3)
        assert seen == rows
        assert await store.after("tie", rows[3].cursor, 100) == rows[4:]

    async def test_a_room_name_firestore_cannot_hold_is_refused(self, store: FirestoreStore) -> None:
        with pytest.raises(ValueError):
            await store.add("a/b", "u", "x", "no")

    async def test_rules_deny_direct_client_access(
        self, store: FirestoreStore, firestore_env: Emulator
    ) -> None:
        # The emulator runs with firestore.rules; the admin client ("owner") bypasses them,
        # a browser does not.
        await store.add("r", "u", "x", "private")
        dm = conversation_key(b"k", "u1", "u2")
        await store.add(dm, "u1", "Ada", "between us")
        await store.join("u1", dm, partner="u2")
        documents = f"http://{firestore_env.host}/v1/projects/{PROJECT_ID}/databases/(default)/documents"
        url = f"{documents}/rooms/r/messages"
        for path in ("rooms/r/messages", "rooms", "rooms/r", f"conversations/{dm}/messages", "memberships"):
            with pytest.raises(urllib.error.HTTPError) as denied:
                urllib.request.urlopen(f"{documents}/{path}", timeout=10)
            assert denied.value.code == 403, path
        body = json.dumps({"fields": {"text": {"stringValue": "forged"}}}).encode()
        with pytest.raises(urllib.error.HTTPError) as denied:
            urllib.request.urlopen(
                urllib.request.Request(
                    url, data=body, method="POST", headers={"Content-Type": "application/json"}
                ),
                timeout=10,
            )
        assert denied.value.code == 403


def test_firestore_indexes_json_declares_the_composite_indexes_the_queries_need() -> None:
    """The emulator does not enforce indexes, so the one file a deploy reads is checked against the code."""
    declared = json.loads((Path(__file__).parents[1] / "firestore.indexes.json").read_text())
    assert declared["indexes"] == INDEXES and declared["fieldOverrides"] == []


async def test_unreachable_firestore_is_a_store_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{free_port()}")  # nothing listens there
    async with opened_on_emulator(FirestoreStore, timeout=1.0) as s:
        with pytest.raises(StoreError):
            await s.ping()
        with pytest.raises(StoreError):
            await s.add("r", "u", "x", "lost")


def test_missing_configuration_names_the_variable(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("FIRESTORE_EMULATOR_HOST", raising=False)
    with pytest.raises(SettingsError, match="FIREBASE_PROJECT_ID"):
        FirestoreStore(project_id=None, credentials_path=None)
    with pytest.raises(SettingsError, match="GOOGLE_APPLICATION_CREDENTIALS"):
        FirestoreStore(project_id=PROJECT_ID, credentials_path=None)
    with pytest.raises(SettingsError, match=r"GOOGLE_APPLICATION_CREDENTIALS.*does not exist"):
        FirestoreStore(project_id=PROJECT_ID, credentials_path=str(tmp_path / "nope.json"))
    (tmp_path / "bad.json").write_text('{"type": "authorized_user"}')
    with pytest.raises(SettingsError, match=r"GOOGLE_APPLICATION_CREDENTIALS.*not a service-account"):
        FirestoreStore(project_id=PROJECT_ID, credentials_path=str(tmp_path / "bad.json"))
