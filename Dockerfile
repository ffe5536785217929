# Images from one file, selected with --target (docker-compose.yml names them):
#   connector  the connector alone, as users deploy it (the default: `docker build .`)
#   demo       the demo's sample producer, for docker-compose; the connector's image never holds it
# The connector reads its config from a mounted file and serves /metrics, /healthz and
# /readyz on :9108; it runs as an unprivileged user (uid 10001):
#   docker run -v "$PWD/my.yaml:/etc/kafka-timeplus/config.yaml:ro" -p 9108:9108 kafka-timeplus
FROM python:3.11-slim AS build
# Installed into a virtualenv that the runtime stages copy: no pip cache, sources or build tools.
RUN python -m venv /opt/venv
COPY pyproject.toml README.md /src/
COPY connector /src/connector
RUN /opt/venv/bin/pip install --no-cache-dir /src

FROM python:3.11-slim AS runtime
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
RUN useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin connector \
    && mkdir -p /etc/kafka-timeplus
WORKDIR /app

FROM runtime AS demo
# The Avro producer writes through confluent-kafka's own serializers and registry client.
RUN pip install --no-cache-dir 'confluent-kafka[avro,schemaregistry]'
COPY sandbox/__init__.py ./sandbox/
COPY sandbox/demo ./sandbox/demo
USER 10001:10001
CMD ["python", "-m", "sandbox.demo.producer", "--help"]

FROM runtime AS connector
USER 10001:10001
EXPOSE 9108
# /healthz: 200 while the consumer loop goes round. Slim has no curl: the probe is Python's urllib.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-m", "connector.probe", "http://127.0.0.1:9108/healthz"]
CMD ["kafka-timeplus", "run", "-c", "/etc/kafka-timeplus/config.yaml", "--http", ":9108"]
