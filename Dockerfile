# One image for all four services; choose the service with the command, e.g. `incidents run intake`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

COPY pyproject.toml README.md ./
COPY shared ./shared
COPY services ./services
RUN pip install . && useradd --system --uid 10001 incidents

USER incidents
ENV HTTP_HOST=0.0.0.0
CMD ["incidents", "run", "intake"]
