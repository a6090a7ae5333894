"""Docker HEALTHCHECK: exit 0 when GET /healthz answers 200, 1 otherwise.

Uses only the standard library because the slim image has no curl. It asks the
address the app binds to (CHAT_HOST, with a wildcard mapped to loopback) on the
port the app serves (CHAT_PORT, then PORT, then 8000), like the launcher does.
"""

import os
import sys
import urllib.request

host = os.environ.get("CHAT_HOST") or "127.0.0.1"
if host in ("0.0.0.0", "::", ""):  # noqa: S104 - mapping a wildcard bind to loopback
    host = "127.0.0.1"
if ":" in host:
    host = f"[{host}]"
port = os.environ.get("CHAT_PORT") or os.environ.get("PORT") or "8000"

try:
    with urllib.request.urlopen(f"http://{host}:{port}/healthz", timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception as exc:
    print(f"healthcheck failed: {exc}", file=sys.stderr)
    sys.exit(1)
