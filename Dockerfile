# AWS Ops MCP server image. Configuration comes only from the environment (and mounted files):
# nothing secret is built in. Two targets:
#   runtime (the default, the last stage): make docker (docker build -t aws-ops-mcp .); no sandbox, no moto
#   sandbox: make docker-sandbox (docker build --target sandbox -t aws-ops-mcp-sandbox .); moto with demo data
# tests/test_container.py reads this file and runs both start commands and the health check on the host.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# --- builder: a virtualenv with the runtime requirements only (no dev tools, no sandbox) ------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements.txt

# --- sandbox-builder: the same virtualenv plus moto and its dependencies ----------------------------
FROM builder AS sandbox-builder
COPY requirements-sandbox.txt /tmp/requirements-sandbox.txt
RUN /opt/venv/bin/pip install --no-cache-dir -r /tmp/requirements-sandbox.txt

# --- app: what both images share: a non-root user, the environment, the server's runtime source -----
FROM ${PYTHON_IMAGE} AS app
# A fixed numeric UID so Kubernetes can verify runAsNonRoot; HOME holds ~/.aws when one is mounted
# (docker-start.sh mounts the host's read-only at /home/app/.aws).
RUN groupadd --gid 10001 app \
    && useradd --uid 10001 --gid 10001 --home-dir /home/app --create-home --shell /usr/sbin/nologin app
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/home/app \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    AWS_MCP_CACHE_DIR=/app/cache \
    AWS_MCP_STATE_DIR=/tmp/aws-ops-mcp
WORKDIR /app
# AWS_MCP_STATE_DIR: the embedded state database in /tmp, writable whatever the user (docker-start.sh runs as
# yours) and an emptyDir in Kubernetes, whose root filesystem is read-only.
# Runtime source only (sandbox.py goes to the sandbox target alone); .dockerignore keeps tests, bench, .env
# and the local venv out of the context. pyproject.toml: its version is the one serverInfo reports.
COPY auth.py config.py http_app.py listing.py server.py startup.py tooling.py variables.py policy.yaml pyproject.toml ./
COPY catalog/ catalog/
COPY guard/ guard/
COPY core/ core/
COPY generic/ generic/
COPY services/ services/
COPY observability/ observability/
COPY web/ web/
COPY store/ store/
COPY fleet/ fleet/
COPY integrations/ integrations/
COPY inventory/ inventory/
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

# --- sandbox: moto in-process with demo data, for trying the tools without AWS (never for real AWS) ---
FROM app AS sandbox
COPY --from=sandbox-builder /opt/venv /opt/venv
COPY sandbox.py ./
RUN python -m compileall -q /app && python -m catalog.search "$AWS_MCP_CACHE_DIR"
USER 10001:10001
ENTRYPOINT ["python", "server.py", "--sandbox", "--host", "0.0.0.0", "--port", "8000"]

# --- runtime (the default target): the runtime virtualenv, the source, the prebuilt index ------------
FROM app AS runtime
COPY --from=builder /opt/venv /opt/venv
# Bytecode compiled and the operation-search index built at build time: the root filesystem is
# read-only in Kubernetes, and each new pod would otherwise spend seconds building the index.
RUN python -m compileall -q /app && python -m catalog.search "$AWS_MCP_CACHE_DIR"
USER 10001:10001
# Listens on every interface, so the server refuses to start without MCP_AUTH_TOKEN. SIGTERM (docker stop,
# Kubernetes) drains: calls in flight get AWS_MCP_SHUTDOWN_GRACE_SECONDS, then the process exits 0.
# Arguments after the image name are appended: --transport stdio for desktop clients.
ENTRYPOINT ["python", "server.py", "--host", "0.0.0.0", "--port", "8000"]
