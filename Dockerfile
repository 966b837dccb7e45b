# syntax=docker/dockerfile:1
# The image manifests/weft.yaml runs: weftd, the CNI plugin and its installer, on Node 20.
# Build: docker build -t ghcr.io/weft-net/weft:0.1.0 .
# What the image holds is described once, in manifests/image/install-weft.sh; the lab builds the
# same image without Docker by running that script too (test/lab/image/build-images.sh), and takes
# ENTRYPOINT and WORKDIR from this file.
FROM node:20-bookworm-slim AS build
WORKDIR /src
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
# npm install's postinstall applies patches/ (patch-package) and builds netlink's binding.
COPY patches patches
RUN npm install --no-audit --no-fund
COPY build build
COPY cmd cmd
COPY overlay overlay
COPY subnet subnet
COPY backends backends
COPY cni cni
COPY policy policy
COPY test test
COPY manifests/image manifests/image
RUN npm run build && sh manifests/image/stage-weft.sh /src /stage

FROM debian:bookworm-slim
RUN --mount=type=bind,source=manifests/image/install-weft.sh,target=/tmp/install-weft.sh \
    sh /tmp/install-weft.sh packages
RUN --mount=type=bind,from=build,source=/stage,target=/tmp/weft-stage \
    sh /tmp/weft-stage/install-weft.sh files /tmp/weft-stage
WORKDIR /opt/weft
# The daemon's launcher (its bundle runs from the V8 code cache install-weft.sh made) with the Node
# flags chosen by measurement (build/launch-flags.ts; the same as manifests/weft.yaml): a 1 MiB young
# generation, V8's size-over-speed heuristics, and lite mode (interpreter only, no WebAssembly: less
# memory, no more CPU measured). The cache is only taken under these exact flags.
ENTRYPOINT ["node", "--max-semi-space-size=1", "--optimize-for-size", "--lite-mode", "--no-expose-wasm", "/opt/weft/dist/bundle/weftd.mjs"]
