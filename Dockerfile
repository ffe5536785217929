# The connector image used by docker-compose.yml (and by users who deploy it as a container).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml README.md ./
COPY connector ./connector
COPY config ./config
RUN pip install --no-cache-dir . && useradd --system --no-create-home connector
USER connector
CMD ["kafka-timeplus", "run", "-c", "/app/config/demo.yaml"]
