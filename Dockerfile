# syntax=docker/dockerfile:1
# cobalt-trace collector images.
#   gateway (default):  docker build -t cobalt-trace-gateway:0.1.0 .
#   central (+ store):  docker build --target central -t cobalt-trace-central:0.1.0 .
# Both run `cobalt-trace` as uid 10001; the Kubernetes manifests are in deploy/kubernetes/.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- build: the wheel, with the native span scanner compiled -------------------------------------
FROM ${PYTHON_IMAGE} AS builder
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY src ./src
RUN pip wheel --no-deps --wheel-dir /wheels .

# One virtualenv per image; the store extra (chDB, pyarrow) only in the central one.
FROM builder AS gateway-venv
RUN python -m venv /opt/cobalt-trace \
 && /opt/cobalt-trace/bin/pip install /wheels/cobalt_trace-*.whl \
 && /opt/cobalt-trace/bin/python -c "import cobalt_trace.wire._scan"

FROM builder AS central-venv
RUN python -m venv /opt/cobalt-trace \
 && /opt/cobalt-trace/bin/pip install "$(ls /wheels/cobalt_trace-*.whl)[store]" \
 && /opt/cobalt-trace/bin/python -c "import cobalt_trace.wire._scan, chdb"

# --- runtime: no compiler, a non-root user -------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 cobalt \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin cobalt \
 && mkdir -p /var/lib/cobalt-trace \
 && chown 10001:10001 /var/lib/cobalt-trace
# HOME=/tmp: the root filesystem is read-only in the manifests; /tmp is an emptyDir there.
ENV PATH=/opt/cobalt-trace/bin:$PATH \
    HOME=/tmp \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
EXPOSE 4317 4318 13133 8888
ENTRYPOINT ["cobalt-trace"]
CMD ["collector", "--config=/etc/otel/config.yaml"]

FROM runtime AS central
COPY --from=central-venv /opt/cobalt-trace /opt/cobalt-trace
EXPOSE 3200
USER 10001:10001

# Last stage: what `docker build .` makes.  The gateway has no store extra.
FROM runtime AS gateway
COPY --from=gateway-venv /opt/cobalt-trace /opt/cobalt-trace
EXPOSE 4319
USER 10001:10001
