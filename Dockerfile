# The envserve image: the CLI, and the operator that `envserve operator manifests` deploys.
#   docker build -t registry.example.com/envserve:0.1.0 .
#   envserve operator manifests --image registry.example.com/envserve:0.1.0 | kubectl apply -f -
# BASE may be any image with Node.js 20 or newer (a company mirror of node:20-slim, say).
ARG BASE=node:20-slim

FROM ${BASE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
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
ENTRYPOINT ["node", "/app/bin/envserve.js"]
CMD ["operator", "--listen", "0.0.0.0:8080"]
