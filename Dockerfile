# EBOK in one image: `ebok serve` by default; the same image runs `ebok sync` and the other
# commands (compose.yaml). Data lives in the /data volume; the process runs as `ebok`, not root.
#   docker build -t ebok .
#   docker run -d -p 127.0.0.1:8000:8000 -v ebok-data:/data -e EBOK_BASE_URL=https://... ebok
# Debian 12 pinned: its postgresql-client 15 is the pg_dump `ebok backup` runs against the
# compose file's postgres:15 (pg_dump must be the server's major version or newer).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN groupadd --system --gid 10001 ebok \
    && useradd --system --uid 10001 --gid ebok --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin ebok

RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY ebok ebok
COPY etl etl
COPY portal portal
COPY templates templates
RUN pip install . && cd / && rm -rf /src

# A named volume starts as a copy of this folder, owned by ebok.
RUN mkdir -m 0750 /data && chown ebok:ebok /data
VOLUME /data
WORKDIR /data

# Listen on every interface of the container; publish the port only to the reverse proxy.
ENV EBOK_DATA_DIR=/data \
    EBOK_HOST=0.0.0.0 \
    EBOK_PORT=8000

USER ebok
EXPOSE 8000

# Healthy = serving data: /healthz answers 503 until the first export has been imported.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('EBOK_PORT', '8000'), timeout=4)"]

ENTRYPOINT ["ebok"]
CMD ["serve"]
