# Packyard registry image. Build: docker build -t packyard .
# Same start command and config as `npm start` with config.example.yaml; see README.

FROM node:20-bookworm-slim AS build
WORKDIR /src
# better-sqlite3 compiles its native addon here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
COPY src ./src
COPY migrations ./migrations
RUN npm ci && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/packyard
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist/src ./dist/src
# The pack browser's templates and static files are read from the source tree at run time.
COPY src/http/ui/templates ./src/http/ui/templates
COPY src/http/ui/static ./src/http/ui/static
COPY package.json config.example.yaml ./
COPY bin ./bin
COPY migrations ./migrations
# The example config is the image's default: data under /data (relative to WORKDIR /),
# htpasswd at /data/htpasswd, created with a random admin password on first start.
COPY config.example.yaml /etc/spectro/config.yml
RUN ln -s /opt/packyard/bin/packyard.js /usr/local/bin/packyard \
 && mkdir -p /data /auth /certs \
 && chown node:node /data /auth /certs
USER node
WORKDIR /
EXPOSE 5000
VOLUME ["/data", "/auth", "/certs"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
  CMD ["node", "-e", "const u=(s)=>fetch(s+'://127.0.0.1:5000/health').then(r=>r.ok);process.env.NODE_TLS_REJECT_UNAUTHORIZED='0';u('http').catch(()=>u('https')).then(ok=>process.exit(ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["packyard"]
CMD ["serve", "/etc/spectro/config.yml"]
