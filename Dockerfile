# The envserve image: the CLI, and the operator that `envserve operator manifests` deploys.
#   docker build -t registry.example.com/envserve:0.1.0 .
#   envserve operator manifests --image registry.example.com/envserve:0.1.0 | kubectl apply -f -
# BASE may be any image with Node.js 22.12 or newer (a company mirror of node:26-slim, say); the
# default is the Active LTS, the Node the tests run on (package.json's devDependency `node`).
ARG BASE=node:26-slim

FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the devDependency `node` (the tests' Node) installs no binary and no .bin/node
# link without its preinstall, so the build runs on the base image's Node.
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json tsconfig.page.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev

FROM ${BASE}
WORKDIR /app
ENV NODE_ENV=production
COPY package.json ./
COPY bin ./bin
COPY --from=build /src/dist ./dist
COPY --from=build /src/node_modules ./node_modules
# The Deployment runs it as this non-root user with a read-only root filesystem.
USER 65532:65532
# A small young generation: V8 in Node.js 26 lets it grow to 64 MB where memory is plenty (RSS the
# operator does not need; bin/envserve.js would otherwise start itself again with this flag).
ENTRYPOINT ["node", "--max-semi-space-size=1", "/app/bin/envserve.js"]
CMD ["operator", "--listen", "0.0.0.0:8080"]
