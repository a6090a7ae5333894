#!/usr/bin/env python3
"""Re-fetch the vendored htmx files from the npm registry and check them against the pins.

The browser runs only these files, so they are pinned by version and sha256 in
``quart_chat/static/vendor/htmx/VERSION.json``. ``--check`` (the default)
fetches the pinned version with ``npm pack`` and fails if any byte differs from
what is committed; ``--write`` replaces the committed files with the fetched
ones and rewrites the hashes (use it, and review the diff, to upgrade).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

VENDOR = Path(__file__).resolve().parent.parent / "quart_chat" / "static" / "vendor" / "htmx"
PIN_FILE = VENDOR / "VERSION.json"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fetch(package: str, version: str, members: dict[str, str]) -> dict[str, bytes]:
    """Download ``package@version`` with npm and return the wanted files' bytes."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            ["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", tmp],
            check=True, capture_output=True, text=True, cwd=tmp,
        )
        tarball = Path(tmp) / json.loads(out.stdout)[0]["filename"]
        files: dict[str, bytes] = {}
        with tarfile.open(tarball) as tar:
            for local, member in members.items():
                extracted = tar.extractfile(f"package/{member}")
                if extracted is None:
                    raise SystemExit(f"{member} is missing from {package}@{version}")
                files[local] = extracted.read()
        return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="replace the vendored files and pins")
    args = parser.parse_args(argv)
    pins = json.loads(PIN_FILE.read_text())
    members = {name: entry["source"] for name, entry in pins["files"].items()}
    fetched = fetch(pins["package"], pins["version"], members)
    failures = 0
    for name, data in fetched.items():
        local = VENDOR / name
        digest = sha256(data)
        if args.write:
            local.write_bytes(data)
            pins["files"][name]["sha256"] = digest
            print(f"wrote {name} {digest}")
            continue
        pinned = pins["files"][name]["sha256"]
        committed = sha256(local.read_bytes()) if local.exists() else "missing"
        ok = digest == pinned == committed
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: npm {digest[:16]} pinned {pinned[:16]} committed {committed[:16]}")
    if args.write:
        PIN_FILE.write_text(json.dumps(pins, indent=2) + "\n")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
