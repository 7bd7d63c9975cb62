# One image for every process: web, per-context workers and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY contexts ./contexts
COPY manage.py ./
RUN pip install . && useradd --create-home shop
# Static files (admin, Swagger UI, Redoc) are collected into the image, with
# hashed names and gzipped copies; the web process serves them (whitenoise).
# The key only satisfies the settings' check: collectstatic signs nothing.
ENV STATIC_ROOT=/app/staticfiles
RUN SECRET_KEY=collectstatic-only python manage.py collectstatic --noinput --verbosity 0
USER shop

EXPOSE 8000
CMD ["gunicorn", "config.wsgi", "--bind", "0.0.0.0:8000", "--workers", "2"]
