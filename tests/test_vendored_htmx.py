"""The browser runs only the vendored htmx files: they must match their pinned hashes."""

import hashlib
import json
from pathlib import Path

VENDOR = Path(__file__).resolve().parents[1] / "quart_chat" / "static" / "vendor" / "htmx"


def test_vendored_files_match_their_pins() -> None:
    pins = json.loads((VENDOR / "VERSION.json").read_text())
    assert pins["package"] == "htmx.org" and pins["version"] == "4.0.1"
    for name, entry in pins["files"].items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == entry["sha256"], name


def test_no_other_scripts_are_shipped() -> None:
    static = VENDOR.parents[1]
    scripts = sorted(p.relative_to(static).as_posix() for p in static.rglob("*.js"))
    assert scripts == [
        "vendor/htmx/htmx.min.js",
        "vendor/htmx/hx-csp.min.js",
        "vendor/htmx/hx-upsert.min.js",
        "vendor/htmx/hx-ws.min.js",
    ]
