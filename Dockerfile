# The image manifests/weft.yaml runs: weftd, the CNI plugin and its installer, on Node 20.
# Build: docker build -t ghcr.io/weft-net/weft:0.1.0 .
FROM node:20-bookworm-slim AS build
WORKDIR /opt/weft
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json tsconfig.json ./
RUN npm install --no-audit --no-fund
COPY cmd cmd
COPY overlay overlay
COPY subnet subnet
COPY backends backends
COPY cni cni
COPY test test
RUN npm run build && npm prune --omit=dev && rm -rf dist/test

FROM node:20-bookworm-slim
# iptables/nft for the masquerade and forward rules (the daemon talks rtnetlink itself, no iproute2).
RUN apt-get update && apt-get install -y --no-install-recommends iptables nftables && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/weft
COPY --from=build /opt/weft/package.json ./
COPY --from=build /opt/weft/node_modules node_modules
COPY --from=build /opt/weft/dist dist
COPY --from=build /opt/weft/cni/10-weft.conflist cni/10-weft.conflist
ENTRYPOINT ["node", "/opt/weft/dist/cmd/weftd.js"]
