# syntax=docker/dockerfile:1
# pgconn, the Slack bot: `docker build -t pgconn .`, then see docs/deploy.md.
#
# The base is pinned by its full version tag. For a reproducible release, also pin the digest
# the tag resolves to when you build (`docker buildx imagetools inspect python:3.11.14-slim-bookworm`)
# as `python:3.11.14-slim-bookworm@sha256:<digest>` in both FROM lines.
# Nothing secret is built in: tokens and DSN passwords come from the environment at run time
# and are referenced from the config file as ${NAME}.

FROM python:3.11.14-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/pgconn
WORKDIR /src
COPY pyproject.toml README.md ./
COPY deploy/constraints.txt ./deploy/
COPY bot ./bot
COPY playbooks ./playbooks
# Build the wheel (the playbooks ship inside it), install it into a venv that the runtime stage
# copies whole (no build tools, sources or pip caches in the image) with every dependency at the
# version deploy/constraints.txt pins (refresh: `python3 deploy/refresh_constraints.py`), then
# load the bundled playbooks once from the installed package (-I: not the sources here).
RUN python -m pip wheel --no-deps --wheel-dir dist . \
    && python -m venv "$VIRTUAL_ENV" \
    && "$VIRTUAL_ENV/bin/pip" install --constraint deploy/constraints.txt dist/pgconn-*.whl \
    && "$VIRTUAL_ENV/bin/python" -I -c 'from bot.playbooks import load_playbooks; load_playbooks()'

FROM python:3.11.14-slim-bookworm
LABEL org.opencontainers.image.title="pgconn" \
      org.opencontainers.image.description="ChatOps bot for PostgreSQL connection-exhaustion incidents" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed UID/GID, so Kubernetes' runAsUser/fsGroup and volume ownership can name it.
RUN groupadd --system --gid 10001 pgconn \
    && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/pgconn --create-home \
       --shell /usr/sbin/nologin pgconn
COPY --from=build /opt/pgconn /opt/pgconn
# PGCONN_CONFIG: mount the config file here (read-only). PGCONN_HEALTH_PORT: the side port for
# /healthz, /readyz and /metrics. Bytecode was compiled at install time; writing more would
# fail on a read-only root filesystem.
ENV PATH=/opt/pgconn/bin:$PATH \
    VIRTUAL_ENV=/opt/pgconn \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PGCONN_CONFIG=/etc/pgconn/config.yaml \
    PGCONN_HEALTH_PORT=8081
# Besides /tmp, the working directory is the only place the bot writes: the default SQLite
# state store.
WORKDIR /var/lib/pgconn
USER 10001:10001
# 3000: Slack's requests in HTTP mode (/slack/events); 8081: health and metrics.
EXPOSE 3000 8081
# No curl in a slim image: the interpreter asks the side port. Any answer other than 2xx, or no
# answer, fails the check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PGCONN_HEALTH_PORT', '8081'), timeout=4)"]
ENTRYPOINT ["pgconn"]
CMD ["serve"]
