# Build stage: compiles TypeScript. better-sqlite3 ships its SQLite binding prebuilt (Node-API,
# linux/amd64 and linux/arm64), so no compiler is needed; the check below fails the build on a
# platform it has no binding for, rather than shipping an image that cannot open its outbox.
FROM node:24-trixie-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev \
  && node -e "new (require('better-sqlite3'))(':memory:').close()"

# Runtime stage: no dev dependencies, not root.
FROM node:24-trixie-slim
ENV NODE_ENV=production \
    STACKWATCH_DATA_DIR=/var/lib/stackwatch \
    UV_THREADPOOL_SIZE=16
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# Every key documented; the image starts without it (defaults and DATABASE_URL, REDIS_URL, …).
COPY examples/stackwatch.yml /etc/stackwatch/stackwatch.example.yml
RUN mkdir -p /var/lib/stackwatch && chown node:node /var/lib/stackwatch
USER node
VOLUME ["/var/lib/stackwatch"]
EXPOSE 9879
# Asks /-/healthy, then /-/ready (the outbox open), where the service listens: the address and
# TLS of its own flags (read from its command line), so a changed port or a web config with
# TLS in `command:` needs no change here. The reason of a failure shows in `docker inspect`.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "/app/dist/cli.js", "healthcheck"]
ENTRYPOINT ["node", "/app/dist/cli.js"]
# Mount a configuration and pass --config.file=/etc/stackwatch/stackwatch.yml to use one.
CMD []
