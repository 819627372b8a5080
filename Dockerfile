# syntax=docker/dockerfile:1
#
# One image for every alphaloop process (`bot`, `worker`, `run`, `doctor`, ...): the CLI runs
# straight from the TypeScript sources through tsx, so there is no compile step, only the
# dependencies to build.
#
#   docker build -t alphaloop .
#   docker run --rm alphaloop doctor

# ---- deps: production node_modules, native addons compiled here ---------------------------------
# Node 20 because isolated-vm 5 is built against it (and needs --no-node-snapshot, which
# bin/alphaloop.js adds). The addon falls back to node-gyp when no prebuilt binary matches, so the
# compiler toolchain lives in this stage only.
FROM node:20-bookworm-slim AS deps
RUN apt-get update \
  && apt-get install -y --no-install-recommends python3 make g++ \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
# tsx, esbuild and the rest of what runs in production are `dependencies`; the test and lint
# tools are not needed in the image.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime: no compiler, not root --------------------------------------------------------------
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    ALPHALOOP_HOME=/var/lib/alphaloop \
    LOG_FORMAT=json
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json tsconfig.json ./
COPY bin ./bin
# The prompt's API reference is read from src/ at run time, the library from strategies/, the
# default run config and notes from configs/, the bundled bars from data/.
COPY src ./src
COPY configs ./configs
COPY strategies ./strategies
COPY data ./data
# The app files stay root-owned (read-only to the process); only ALPHALOOP_HOME (embedded
# database, bar cache, downloads) is writable.
RUN mkdir -p /var/lib/alphaloop && chown node:node /var/lib/alphaloop
VOLUME ["/var/lib/alphaloop"]
# `node` (uid 1000) ships with the official image.
USER node
ENTRYPOINT ["node", "bin/alphaloop.js"]
CMD ["--help"]
