# Packyard registry image. Build: docker build -t packyard .
# Same start command and config as `npm start` with config.example.yaml; see README.

FROM node:24-bookworm-slim AS build
WORKDIR /src
# A native addon without a prebuilt binary for the platform is compiled here (better-sqlite3
# ships its own for linux x64 and arm64).
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY scripts ./scripts
COPY migrations ./migrations
# The commit the image is built from (the build context has no .git), for `packyard version`,
# the log and the pack browser: docker build --build-arg PACKYARD_COMMIT=$(git rev-parse --short=12 HEAD) .
ARG PACKYARD_COMMIT=unknown
# The single-file client for every platform, served at /_client/ (npm run build:client fetches
# the pinned Node binaries from the npm registry, as npm ci fetches the packages).
RUN printf '%s\n' "$PACKYARD_COMMIT" > COMMIT \
 && npm ci \
 && npm run build:client \
 && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/packyard
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/client ./dist/client
COPY --from=build /src/COMMIT ./COMMIT
# The pack browser's templates and static files are read from the source tree at run time.
COPY src/http/ui/templates ./src/http/ui/templates
COPY src/http/ui/static ./src/http/ui/static
COPY package.json config.example.yaml ./
COPY bin ./bin
COPY migrations ./migrations
# The example config is the image's default: everything under /data (relative to WORKDIR /),
# users in /data/htpasswd, created with a random admin password on first start.
COPY config.example.yaml /etc/spectro/config.yml
# The server runs as the image's `node` user, uid 1000 / gid 1000: bind-mounted folders for
# /data (and /auth when users are added from inside) must belong to it (chown 1000:1000).
RUN ln -s /opt/packyard/bin/packyard.js /usr/local/bin/packyard \
 && mkdir -p /data /auth /certs \
 && chown node:node /data /auth /certs
USER node
WORKDIR /
EXPOSE 5000
VOLUME ["/data", "/auth", "/certs"]
# Probes /health where the config (and REGISTRY_* variables) say the server listens, over
# HTTPS when http.tls is set. A container started with another config path needs
# --health-cmd "packyard healthcheck /that/config.yml".
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["packyard", "healthcheck"]
ENTRYPOINT ["packyard"]
CMD ["serve", "/etc/spectro/config.yml"]
