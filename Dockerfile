# Two images from one file, selected with --target (docker-compose.yml names them):
#   connector  the connector alone, as users deploy it (the default: `docker build .`)
#   demo       the demo's sample producer, for docker-compose; the connector's image never holds it
FROM python:3.11-slim AS base
WORKDIR /app
COPY pyproject.toml README.md ./
COPY connector ./connector
RUN pip install --no-cache-dir . && useradd --system --no-create-home connector

FROM base AS demo
COPY sandbox/__init__.py ./sandbox/
COPY sandbox/demo ./sandbox/demo
USER connector
CMD ["python", "-m", "sandbox.demo.producer", "--help"]

FROM base AS connector
COPY config ./config
USER connector
CMD ["kafka-timeplus", "run", "-c", "/app/config/demo.yaml"]
