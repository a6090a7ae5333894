"""Who people are to each other: the profile store protocol (display name, handle, colour, zone).

Two implementations, chosen with the message store (``CHAT_STORE``): ``sqlite`` (a file of
its own in the data folder) and ``firestore`` (``users/{uid}`` plus ``handles/{handle}``, the
handle's uniqueness enforced in a transaction). Emails are never kept here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Protocol

from quart_chat.models import Profile


class ProfileError(Exception):
    """The profile store could not do what was asked (unreachable, closed)."""


class HandleTaken(Exception):
    """Someone else has that handle (in any letter case)."""


@dataclass(frozen=True)
class ProfileChanges:
    """What :meth:`ProfileStore.update` changes in a profile: each field given (not None), nothing else."""

    display_name: str | None = None
    handle: str | None = None
    colour: str | None = None
    time_zone: str | None = None

    def given(self) -> dict[str, str]:
        """The fields to change, by name (the names of the stored fields too)."""
        return {f.name: value for f in fields(self) if (value := getattr(self, f.name)) is not None}


class ProfileStore(Protocol):
    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ensure(self, uid: str, display_name: str) -> Profile:
        """This person's profile, made on first use with a handle derived from ``display_name``
        (``ada``, ``ada-2``, ...) and a colour derived from the uid; an existing profile is returned as it is."""
        ...

    async def get(self, uid: str) -> Profile | None: ...

    async def get_many(self, uids: Iterable[str]) -> dict[str, Profile]:
        """The profiles of those of ``uids`` that have one, by uid."""
        ...

    async def by_handle(self, handle: str) -> Profile | None:
        """The profile with this handle, in any letter case."""
        ...

    async def update(self, uid: str, changes: ProfileChanges) -> Profile:
        """Change what is given; raise :class:`HandleTaken` if the handle is someone else's."""
        ...
