# Every Ficus image, one build target each, from the repository root:
#   docker build --target gateway -t ficus/gateway .          (likewise hl7-adapter, cdc,
#   patient-service, results-service, and legacy-his, the stand-in legacy system)
# docker-compose.yml builds them all. One build stage compiles every workspace; each target
# installs the production dependencies of its own workspace and takes only its compiled code,
# migrations and rules. deploy/test/images-start.test.ts starts each target from exactly these
# files (without Docker) and checks its health check.

# ---- the workspaces' manifests: npm ci refuses a lockfile whose workspaces are missing
FROM node:24-bookworm-slim AS manifests
WORKDIR /app
COPY package.json package-lock.json ./
COPY contracts/package.json contracts/
COPY gateway/package.json gateway/
COPY examples/legacy-his/package.json examples/legacy-his/
COPY bench/package.json bench/
COPY cli/package.json cli/
COPY legacy-adapters/hl7-protocol/package.json legacy-adapters/hl7-protocol/
COPY legacy-adapters/hl7-adapter/package.json legacy-adapters/hl7-adapter/
COPY extracted-services/service-kit/package.json extracted-services/service-kit/
COPY extracted-services/patient-service/package.json extracted-services/patient-service/
COPY extracted-services/results-service/package.json extracted-services/results-service/
COPY gateway/dashboard/package.json gateway/dashboard/
COPY legacy-adapters/cdc/package.json legacy-adapters/cdc/

# ---- build: TypeScript to JavaScript (every dist/), and the dashboard (vite)
FROM manifests AS build
COPY tsconfig.base.json ./
# the root brings the compiler; no install script is needed to compile
RUN npm ci --workspace contracts --workspace legacy-adapters/hl7-protocol --workspace examples/legacy-his \
      --workspace extracted-services/service-kit --workspace extracted-services/patient-service \
      --workspace extracted-services/results-service --workspace gateway --workspace gateway/dashboard \
      --workspace legacy-adapters/hl7-adapter --workspace legacy-adapters/cdc \
      --include-workspace-root --ignore-scripts --no-audit --no-fund
COPY contracts/tsconfig.build.json contracts/
COPY contracts/src contracts/src
COPY legacy-adapters/hl7-protocol/tsconfig.build.json legacy-adapters/hl7-protocol/
COPY legacy-adapters/hl7-protocol/src legacy-adapters/hl7-protocol/src
COPY examples/legacy-his/tsconfig.build.json examples/legacy-his/tsconfig.contract.json examples/legacy-his/
COPY examples/legacy-his/src examples/legacy-his/src
COPY extracted-services/service-kit/tsconfig.build.json extracted-services/service-kit/
COPY extracted-services/service-kit/src extracted-services/service-kit/src
COPY extracted-services/patient-service/tsconfig.build.json extracted-services/patient-service/
COPY extracted-services/patient-service/src extracted-services/patient-service/src
COPY extracted-services/results-service/tsconfig.build.json extracted-services/results-service/
COPY extracted-services/results-service/src extracted-services/results-service/src
COPY gateway/tsconfig.build.json gateway/
COPY gateway/src gateway/src
COPY legacy-adapters/hl7-adapter/tsconfig.build.json legacy-adapters/hl7-adapter/
COPY legacy-adapters/hl7-adapter/src legacy-adapters/hl7-adapter/src
COPY legacy-adapters/cdc/tsconfig.build.json legacy-adapters/cdc/
COPY legacy-adapters/cdc/src legacy-adapters/cdc/src
RUN npx tsc -b examples/legacy-his/tsconfig.build.json gateway/tsconfig.build.json legacy-adapters/hl7-adapter/tsconfig.build.json \
      legacy-adapters/cdc/tsconfig.build.json extracted-services/patient-service/tsconfig.build.json extracted-services/results-service/tsconfig.build.json
COPY scripts/build-dashboard.mjs scripts/
COPY gateway/dashboard/index.html gateway/dashboard/vite.config.ts gateway/dashboard/tsconfig.json gateway/dashboard/
COPY gateway/dashboard/src gateway/dashboard/src
RUN node scripts/build-dashboard.mjs --force

# ---- what every image runs on: production mode, and the state folder (the last good copy of
# the rules; the gateway's first admin token when none was given)
FROM manifests AS runtime
ENV NODE_ENV=production
RUN mkdir -p /var/lib/ficus && chown node:node /var/lib/ficus

# ---- the stand-in legacy HIS (examples/legacy-his): HTTP API 8000, HL7 inbound 2576; not part of Ficus
FROM runtime AS legacy-his
RUN npm ci --omit=dev --workspace examples/legacy-his --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/contracts/dist contracts/dist
COPY --from=build /app/legacy-adapters/hl7-protocol/dist legacy-adapters/hl7-protocol/dist
COPY --from=build /app/examples/legacy-his/dist examples/legacy-his/dist
# the default migrations folder, computed from dist/db/, is /app/migrations/legacy-his
COPY migrations/legacy-his migrations/legacy-his

USER node
ENV LEGACY_HIS_HOST=0.0.0.0 LEGACY_HIS_PORT=8000 LEGACY_HIS_HL7_PORT=2576
# HTTP API; HL7 inbound (MLLP)
EXPOSE 8000 2576
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.LEGACY_HIS_PORT || 8000) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "examples/legacy-his/dist/main.js"]

# ---- the gateway: data plane 8080, admin API and dashboard 8081
FROM runtime AS gateway
RUN npm ci --omit=dev --workspace gateway --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/contracts/dist contracts/dist
COPY --from=build /app/gateway/dist gateway/dist
COPY --from=build /app/gateway/dashboard/dist gateway/dashboard/dist
# the rule store's schema (found from dist/store/ at /app/migrations/gateway)
COPY migrations/gateway migrations/gateway
# the rules the image starts with: the rule store's first version (or, without a store, the
# rules themselves; mount a ConfigMap or volume over /app/routing-rules to change them)
COPY routing-rules routing-rules
# the last good copy of the rules (and a first admin token, when none was given) live here
VOLUME /var/lib/ficus

USER node
ENV FICUS_GATEWAY_HOST=0.0.0.0 FICUS_GATEWAY_PORT=8080 FICUS_ADMIN_HOST=0.0.0.0 FICUS_ADMIN_PORT=8081 \
    FICUS_RULES_DIR=/app/routing-rules FICUS_STATE_DIR=/var/lib/ficus
EXPOSE 8080 8081
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FICUS_GATEWAY_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# a larger young generation: fewer scavenges, a shorter latency tail under load; no memory
# reducer: after a lull V8 would shrink the heap with a full collection whose concurrent work
# takes the gateway's CPU for a few hundred ms just as traffic comes back (npm run bench -- gateway)
CMD ["node", "--max-semi-space-size=32", "--no-memory-reducer", "gateway/dist/main.js"]

# ---- the HL7 adapter: MLLP 2575, API 8091
FROM runtime AS hl7-adapter
RUN npm ci --omit=dev --workspace legacy-adapters/hl7-adapter --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/contracts/dist contracts/dist
COPY --from=build /app/legacy-adapters/hl7-protocol/dist legacy-adapters/hl7-protocol/dist
COPY --from=build /app/legacy-adapters/hl7-adapter/dist legacy-adapters/hl7-adapter/dist
# the message store's schema (found from dist/ at /app/migrations/hl7), and the rule store's:
# the adapter reads its rules, tokens and audit log from the same store as the gateway
COPY migrations/hl7 migrations/hl7
COPY migrations/gateway migrations/gateway
# the rules the image starts with: the rule store's first version, when the store is empty
COPY routing-rules routing-rules
# the last good copy of the rules lives here
VOLUME /var/lib/ficus

USER node
ENV HL7_HOST=0.0.0.0 HL7_PORT=2575 HL7_API_HOST=0.0.0.0 HL7_API_PORT=8091 \
    FICUS_RULES_DIR=/app/routing-rules FICUS_STATE_DIR=/var/lib/ficus
# MLLP listener; HTTP API (health, metrics, /api/hl7)
EXPOSE 2575 8091
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HL7_API_PORT || 8091) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "legacy-adapters/hl7-adapter/dist/main.js"]

# ---- change-data capture and write-back: API 8092
FROM runtime AS cdc
RUN npm ci --omit=dev --workspace legacy-adapters/cdc --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/contracts/dist contracts/dist
COPY --from=build /app/legacy-adapters/cdc/dist legacy-adapters/cdc/dist
# its state database, the write-back table in the legacy database, the rule store (tokens), the
# SQL Server stand-in; found from dist/ at /app/migrations/<name>
COPY migrations/cdc migrations/cdc
COPY migrations/cdc-writeback migrations/cdc-writeback
COPY migrations/gateway migrations/gateway
COPY migrations/legacy-mssql migrations/legacy-mssql
# the mapping (routing-rules/cdc/) and the rules the rule store starts from when it is empty
COPY routing-rules routing-rules
VOLUME /var/lib/ficus

USER node
ENV CDC_API_HOST=0.0.0.0 CDC_API_PORT=8092 FICUS_RULES_DIR=/app/routing-rules \
    CDC_MAPPING_FILE=/app/routing-rules/cdc/legacy-his.yaml FICUS_STATE_DIR=/var/lib/ficus
EXPOSE 8092
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.CDC_API_PORT || 8092) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "legacy-adapters/cdc/dist/main.js"]

# ---- what both extracted services hold: the service kit and what it builds on, its tables, the
# change consumer's positions and the outbox (found from dist/ at /app/migrations), and the last
# good copy of the rules the system of record follows
FROM runtime AS extracted-service
COPY --from=build /app/contracts/dist contracts/dist
COPY --from=build /app/legacy-adapters/hl7-protocol/dist legacy-adapters/hl7-protocol/dist
COPY --from=build /app/examples/legacy-his/dist/contract examples/legacy-his/dist/contract
COPY --from=build /app/extracted-services/service-kit/dist extracted-services/service-kit/dist
COPY migrations/service-kit migrations/service-kit
COPY migrations/change-consumer migrations/change-consumer
COPY migrations/outbox migrations/outbox
VOLUME /var/lib/ficus
ENV FICUS_STATE_DIR=/var/lib/ficus

# ---- patient-service: 8101
FROM extracted-service AS patient-service
RUN npm ci --omit=dev --workspace extracted-services/patient-service --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/extracted-services/patient-service/dist extracted-services/patient-service/dist
COPY migrations/patient-service migrations/patient-service
USER node
ENV PATIENT_SERVICE_HOST=0.0.0.0 PATIENT_SERVICE_PORT=8101
EXPOSE 8101
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PATIENT_SERVICE_PORT || 8101) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "extracted-services/patient-service/dist/main.js"]

# ---- results-service: 8102
FROM extracted-service AS results-service
RUN npm ci --omit=dev --workspace extracted-services/results-service --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/extracted-services/results-service/dist extracted-services/results-service/dist
COPY migrations/results-service migrations/results-service
USER node
ENV RESULTS_SERVICE_HOST=0.0.0.0 RESULTS_SERVICE_PORT=8102
EXPOSE 8102
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.RESULTS_SERVICE_PORT || 8102) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "extracted-services/results-service/dist/main.js"]
