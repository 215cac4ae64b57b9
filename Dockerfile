# The production image for app and worker (see compose.yaml).
FROM python:3.11-slim AS app
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN pip install --no-cache-dir uv
WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY allmende ./allmende
COPY marketplace ./marketplace
COPY offer_requests ./offer_requests
COPY knowledge ./knowledge
COPY federation ./federation
COPY notifications ./notifications
COPY identity ./identity
COPY seeds ./seeds
RUN uv sync --frozen --no-dev && useradd --system --home /app allmende && mkdir -p /data && chown allmende /data
USER allmende
ENV ALLMENDE_DATA_DIR=/data PATH="/app/.venv/bin:$PATH"
EXPOSE 8000
CMD ["allmende", "serve", "--host", "0.0.0.0"]
