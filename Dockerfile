# The reference CRM (stalwart.demo) and Stalwart itself, one image for every process;
# compose.yaml runs it as the API, one worker per queue, two beats and the console.
FROM python:3.12-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY stalwart ./stalwart
RUN pip install ".[postgres]" \
    && useradd --create-home --uid 10001 crm \
    && install -d -o crm -g crm /home/crm/ledger

USER crm
WORKDIR /home/crm
# Only the embedded default would use it; the deployment sets STALWART_BROKER_URL.
ENV STALWART_DATA_DIR=/home/crm/.stalwart

# Every process stops cleanly on SIGTERM (see docs/DEPLOY.md for the grace periods).
STOPSIGNAL SIGTERM
EXPOSE 8000 8001
CMD ["stalwart", "--help"]
