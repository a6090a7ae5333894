"""argon2id at its lowest cost for the tests: in-process (tests/conftest.py) and in the servers they start.

Production's hasher (RFC 9106's low-memory profile: 64 MiB, three passes) takes about a second a hash
on a busy test machine, and the suite signs up hundreds of users. Each hash records its own
parameters, so a cheap one still verifies; tests/test_auth_local.py checks that production's own
hasher keeps its cost.

``python -m tests.support.cheap_hashing`` is the ``quart-chat`` command with the cheap hasher: what
tests/support/server.py starts. It lives in tests/, so no deployment runs it.
"""

from __future__ import annotations

from argon2 import PasswordHasher

CHEAP_PASSWORD_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

if __name__ == "__main__":
    from quart_chat.__main__ import main
    from quart_chat.auth import local

    local.PASSWORD_HASHER = CHEAP_PASSWORD_HASHER
    main()
