// the legacy HTTP contract itself is @ficus/legacy-his/contract; the HL7 interpretation is @ficus/hl7-protocol's
export * from './runtime/service-env.js';
export * from './runtime/system-of-record.js';
export * from './runtime/service-metrics.js';
export * from './runtime/ops-routes.js';
export * from './runtime/run-service.js';
export * from './runtime/start-service.js';
export * from './runtime/migrate-service.js';
export * from './hl7/hl7-intake.js';
export * from './hl7/message-order.js';
export * from './cdc/change-feeds.js';
export * from './cdc/change-rows.js';
export * from './fhir/fhir-http.js';
export * from './fhir/fhir-time.js';
export * from './runtime/queue-gauges.js';
export * from './outbox/outbox-seam.js';
export * from './runtime/dedup-retention.js';
export * from './runtime/early-copy-locks.js';
