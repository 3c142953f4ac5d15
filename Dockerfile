# Shieldgate: the gateway with its bundled configuration, policies and models baked in.
# Build: docker build -t shieldgate .    Run: docker run -p 8080:8080 -e OPENAI_API_KEY shieldgate

FROM python:3.11-slim AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY policies ./policies
RUN python -m venv /opt/shieldgate \
    && /opt/shieldgate/bin/pip install . \
    && mkdir -p /out/policies \
    && cp -r policies/. /out/policies/ \
    && cp gateway/defaults/gateway.yaml /out/gateway.yaml

FROM python:3.11-slim
ENV PATH=/opt/shieldgate/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LITELLM_LOCAL_MODEL_COST_MAP=True \
    SHIELDGATE_HOST=0.0.0.0 \
    SHIELDGATE_PORT=8080 \
    SHIELDGATE_CONFIG=/etc/shieldgate/gateway.yaml \
    SHIELDGATE_POLICY_DIR=/etc/shieldgate/policies
RUN useradd --system --uid 10001 --home-dir /var/lib/shieldgate --create-home shieldgate
COPY --from=build /opt/shieldgate /opt/shieldgate
COPY --from=build /out/gateway.yaml /etc/shieldgate/gateway.yaml
COPY --from=build /out/policies /etc/shieldgate/policies
USER 10001
EXPOSE 8080
# Mount your own /etc/shieldgate/gateway.yaml and /etc/shieldgate/policies to change them.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=2)"]
CMD ["shieldgate", "serve"]
