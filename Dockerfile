# syntax=docker/dockerfile:1
# Build stage: compiles TypeScript and the native SQLite binding.
FROM node:20-bookworm AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

# Runtime stage: no compilers, no dev dependencies, not root.
FROM node:20-bookworm-slim
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
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9879/-/healthy').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "/app/dist/cli.js"]
# Mount a configuration and pass --config.file=/etc/stackwatch/stackwatch.yml to use one.
CMD []
