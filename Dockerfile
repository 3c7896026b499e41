# nowbot: the bot service (`nowbot run`) on a slim Python 3.11 image, as a non-root user.
# python:3.11-slim (3.11.16 on Debian trixie), pinned by its multi-platform index digest.
FROM python:3.11-slim@sha256:9c900dea9e8fb7e16277c179b555cc72d29a352dbc33cff48ad5a0412fd5bfc7

# Everything the bot writes goes under /data, caches too (compiled Numba functions, Matplotlib's
# and Keras' files): compose runs it on a read-only root file system.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    NOWBOT_DATA_DIR=/data \
    XDG_CACHE_HOME=/data/cache \
    NUMBA_CACHE_DIR=/data/cache/numba \
    MPLCONFIGDIR=/data/cache/matplotlib \
    KERAS_HOME=/data/cache/keras

RUN useradd --create-home --uid 10001 nowbot \
    && mkdir /data && chown nowbot:nowbot /data

WORKDIR /app
# Dependencies first, so code changes do not reinstall TensorFlow: the versions `make lock`
# resolved, each checked against its recorded hash.
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY models ./models
COPY corpora ./corpora
COPY storage ./storage
RUN pip install --no-deps . \
    && python -c "from bot.demo import demo_posts; assert demo_posts(), 'demo corpus missing'"

USER nowbot
WORKDIR /data
EXPOSE 8350
# The dashboard listens on all interfaces inside the container; compose publishes it on the
# host's loopback only.
ENV NOWBOT_DASHBOARD_HOST=0.0.0.0
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8350/healthz', timeout=4)"
CMD ["nowbot", "run"]
