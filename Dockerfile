# syntax=docker/dockerfile:1
# Every Regatta service image. Build from the repository root, naming the app twice (as the build argument
# that prunes and compiles it, and as the target that runs it):
#   docker build --build-arg APP=gateway   --target gateway   -t regatta/gateway .
#   docker build --build-arg APP=inference --target inference -t regatta/inference .
#   docker build --build-arg APP=features  --target features  -t regatta/features .
#   docker build --build-arg APP=llm-proxy --target llm-proxy -t regatta/llm-proxy .
# (docker-compose.yml does this for all four.) Stages: tools (pinned pnpm + turbo) -> prune (only APP and
# its workspace packages) -> build (install, compile, drop dev dependencies) -> runtime (node user, no build
# tools) -> one target per app with its ports, variables, health check and entry point.
# Node.js 24 (LTS; 20 is end-of-life): .ci/run runs every test on it as well as on the machine's Node.js.
ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS tools
# The versions package.json pins (packageManager) and the catalog pins (turbo).
ARG PNPM_VERSION=12.21.0
ARG TURBO_VERSION=2.11.11
RUN npm install -g pnpm@${PNPM_VERSION} turbo@${TURBO_VERSION} && npm cache clean --force

FROM tools AS prune
ARG APP
RUN case "${APP}" in gateway|inference|features|llm-proxy) ;; \
  *) echo "build with --build-arg APP=<gateway|inference|features|llm-proxy> (got '${APP}')" >&2; exit 1 ;; esac
WORKDIR /repo
COPY . .
RUN turbo prune @regatta/${APP} --docker --out-dir /pruned

FROM tools AS build
ARG APP
# better-sqlite3 compiles from source when its prebuilt binary cannot be downloaded.
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
# onnxruntime-node's install script would download CUDA binaries; the CPU ones ship in the package
# (pnpm-workspace.yaml also refuses that script).
ENV ONNXRUNTIME_NODE_INSTALL=skip CI=true
WORKDIR /repo
# Manifests and lockfile first, so the install layer is reused until a dependency changes.
COPY --from=prune /pruned/json/ ./
RUN --mount=type=cache,id=regatta-pnpm-store,target=/pnpm-store \
  pnpm install --frozen-lockfile --store-dir /pnpm-store
COPY --from=prune /pruned/full/ ./
# turbo prune copies workspace packages, not the shared compiler settings they extend nor the bundler
# script an app's build may run.
COPY tsconfig.base.json ./
COPY tools/bundle.mjs ./tools/
RUN turbo run build --filter=@regatta/${APP}
# Runtime needs only production dependencies; compilers and test runners stay behind.
RUN --mount=type=cache,id=regatta-pnpm-store,target=/pnpm-store \
  pnpm install --frozen-lockfile --prod --offline --store-dir /pnpm-store

# Every service runs from its bundle (dist/bundle/main.mjs, its package's start script: one file instead of
# hundreds of modules), which starts in about half the time: what a scale-out waits for.
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Files stay owned by root (read-only for the service); only the data directory is writable.
COPY --from=build /repo ./
RUN mkdir -p /app/.regatta/data && chown node:node /app/.regatta/data
STOPSIGNAL SIGTERM

# The gateway: HTTP API, /health and /ready on 8080; private /metrics, /health and /ready on 9100 (ADMIN_PORT).
FROM runtime AS gateway
# A target built from another APP has no entry point: fail the build, not the container.
RUN test -f apps/gateway/dist/bundle/main.mjs
ENV REGATTA_DATA_DIR=/app/.regatta/data PORT=8080 ADMIN_PORT=9100
USER node
EXPOSE 8080 9100
# Healthy = ready to serve (/ready); reads the port the service was actually given.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || '8080') + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "apps/gateway/dist/bundle/main.mjs"]

# The inference service: ONNX model serving over NATS; /metrics /health /ready on 9101.
FROM runtime AS inference
RUN test -f apps/inference/dist/bundle/main.mjs
ENV MODEL_REPOSITORY=/app/apps/inference/models METRICS_PORT=9101
USER node
EXPOSE 9101
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || '9101') + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "apps/inference/dist/bundle/main.mjs"]

# The features service: online features over NATS and the Feast HTTP API on 6566; /metrics /health /ready on 9102.
FROM runtime AS features
RUN test -f apps/features/dist/bundle/main.mjs
# Also writable: the directory of the SQLite online store feature_store.yaml names, used without REDIS_URL.
RUN chown node:node /app/apps/features/feature_repo/data
ENV FEAST_REPO_PATH=/app/apps/features/feature_repo METRICS_PORT=9102
USER node
EXPOSE 9102 6566
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || '9102') + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "apps/features/dist/bundle/main.mjs"]

# The llm-proxy: OpenAI-compatible LLM access over NATS; /metrics /health /ready on 9103.
FROM runtime AS llm-proxy
RUN test -f apps/llm-proxy/dist/bundle/main.mjs
ENV REGATTA_DATA_DIR=/app/.regatta/data METRICS_PORT=9103
USER node
EXPOSE 9103
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.METRICS_PORT || '9103') + '/ready').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "apps/llm-proxy/dist/bundle/main.mjs"]
