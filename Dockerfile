# certmon image: the same image runs the API, the Celery worker and the scheduler (beat).
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    CERTMON_DATA_DIR=/var/lib/certmon CERTMON_HOST=0.0.0.0
# WeasyPrint (PDF reports) needs Pango; fonts-dejavu covers æøå.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 \
      fonts-dejavu-core \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --home /var/lib/certmon --create-home certmon

WORKDIR /app
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir uv==0.13.8 \
 && uv pip install --system --no-cache -r requirements.lock
COPY certmon ./certmon
COPY workers ./workers
COPY feeds ./feeds
COPY dashboards ./dashboards
RUN uv pip install --system --no-cache --no-deps .

USER certmon
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz')"
CMD ["certmon", "serve", "--no-worker", "--no-setup"]
