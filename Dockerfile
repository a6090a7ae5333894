# syntax=docker/dockerfile:1
# quart-chat: one process, Hypercorn serving the Quart app, configured by deploy/hypercorn.toml
# plus CHAT_* environment variables. No secrets are baked in: they come from the environment
# (eb setenv / Secrets Manager) at run time.

# ---- builder: resolve and build every wheel, install them into a venv -----------------------
FROM python:3.13-slim AS builder

# Extras to install; pip warns (and carries on) about an extra the project does not define yet.
ARG EXTRAS=firebase,redis
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src
# .dockerignore is an allow-list: only the package, its metadata and deploy/ reach the context.
COPY . .
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip wheel --wheel-dir /wheels ".[${EXTRAS}]" \
    && /opt/venv/bin/pip install --no-index --find-links /wheels "quart-chat[${EXTRAS}]" \
    && /opt/venv/bin/pip uninstall --yes pip \
    && /opt/venv/bin/python -c "import quart_chat, hypercorn"

# ---- runtime: the venv, the deploy files and an unprivileged user, nothing else --------------
FROM python:3.13-slim

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    CHAT_HOST=0.0.0.0 \
    PORT=8000 \
    CHAT_DATA_DIR=/data \
    CHAT_HYPERCORN_CONFIG=/app/deploy/hypercorn.toml

RUN groupadd --gid 10001 chat \
    && useradd --uid 10001 --gid chat --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin chat \
    && mkdir -p /data /app \
    && chown chat:chat /data \
    && chmod 0700 /data

COPY --from=builder /opt/venv /opt/venv
COPY deploy/hypercorn.toml deploy/healthcheck.py /app/deploy/

WORKDIR /app
USER 10001:10001
VOLUME ["/data"]
# Beanstalk proxies to the port EXPOSEd here; set CHAT_PORT (or PORT) to serve elsewhere.
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "/app/deploy/healthcheck.py"]

# Hypercorn handles SIGTERM: the app closes live sockets with 1012 and exits within the
# graceful timeout (kept below Docker's default 10 s stop timeout).
STOPSIGNAL SIGTERM
CMD ["python", "-m", "quart_chat"]
