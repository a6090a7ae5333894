"""A real nginx laid out as Elastic Beanstalk's Docker platform lays it out, with the source bundle's
.platform/nginx copied over it: for the deployment tests and for anything that must see what the app
sees behind Beanstalk's nginx (its X-Forwarded-* headers)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.docker_engine import REPO, missing
from tests.support.net import free_port

NGINX_DIR = REPO / ".platform" / "nginx"

# A stand-in for the nginx.conf of Beanstalk's Docker platform (Amazon Linux 2/2023): the
# http block includes conf.d/*.conf, defines its own $connection_upgrade map *after* that
# include, and its one server block includes conf.d/elasticbeanstalk/*.conf, where the
# platform writes the default `location /` (00_application.conf) and the health log.
EB_NGINX_CONF = """\
worker_processes 1;
error_log {prefix}/logs/error.log warn;
pid {prefix}/logs/nginx.pid;
events {{ worker_connections 64; }}
http {{
    default_type application/octet-stream;
    access_log {prefix}/logs/access.log;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;

    include conf.d/*.conf;

    map $http_upgrade $connection_upgrade {{
        default "upgrade";
    }}

    server {{
        listen 127.0.0.1:{listen} default_server;
        client_header_timeout 60;
        client_body_timeout 60;
        keepalive_timeout 60;
        gzip off;

        include conf.d/elasticbeanstalk/*.conf;
    }}
}}
"""
EB_UPSTREAM = "upstream docker {{\n    server 127.0.0.1:{upstream};\n    keepalive 256;\n}}\n"
EB_DEFAULT_LOCATION = """\
location / {
    proxy_pass          http://docker;
    proxy_http_version  1.1;
    proxy_set_header    Connection          $connection_upgrade;
    proxy_set_header    Upgrade             $http_upgrade;
    proxy_set_header    Host                $host;
    proxy_set_header    X-Real-IP           $remote_addr;
    proxy_set_header    X-Forwarded-For     $proxy_add_x_forwarded_for;
}
"""
EB_HEALTHD = """\
if ($time_iso8601 ~ "^(\\d{4})-(\\d{2})-(\\d{2})T(\\d{2})") {
    set $year $1;
    set $month $2;
    set $day $3;
    set $hour $4;
}
"""


def nginx_binary() -> str:
    path = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.path.exists(p)), None)
    if path is None:
        missing("nginx is not installed (apt-get install nginx; see .ci/install-docker.sh)")
    if os.geteuid() != 0:
        missing("nginx -t with a custom prefix needs root here")
    return path


def beanstalk_nginx(prefix: Path, listen: int, upstream: int) -> Path:
    """Lay out Beanstalk's nginx tree under ``prefix``, then the source bundle's .platform/nginx."""
    for sub in ("conf.d/elasticbeanstalk", "logs", "tmp"):
        (prefix / sub).mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(EB_NGINX_CONF.format(prefix=prefix, listen=listen))
    (prefix / "conf.d" / "elasticbeanstalk-nginx-docker-upstream.conf").write_text(
        EB_UPSTREAM.format(upstream=upstream)
    )
    (prefix / "conf.d" / "elasticbeanstalk" / "00_application.conf").write_text(EB_DEFAULT_LOCATION)
    (prefix / "conf.d" / "elasticbeanstalk" / "healthd.conf").write_text(EB_HEALTHD)
    # What Beanstalk does with .platform/nginx/: copy it over /etc/nginx, file by file.
    shutil.copytree(NGINX_DIR, prefix, dirs_exist_ok=True)
    return conf



@contextmanager
def running_nginx(prefix: Path, upstream: int | None = None) -> Iterator[tuple[int, int]]:
    """A real nginx (foreground, stopped by its pid) in front of an upstream port: (listen, upstream)."""
    nginx = nginx_binary()
    listen, upstream = free_port(), upstream or free_port()
    conf = beanstalk_nginx(prefix, listen=listen, upstream=upstream)
    process = subprocess.Popen(
        [nginx, "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", listen)) == 0:
                    break
            assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
            assert time.monotonic() < deadline, "nginx did not listen within 10 s"
            time.sleep(0.05)
        yield listen, upstream
    finally:
        process.terminate()
        process.wait(10)
