// The rule model, its validation and the rule files, apart from the main entry so that a
// tool that only reads rules (the CLI) loads neither fastify, pg, nor the stores.
export * from './model.js';
export * from './describe-rule.js';
export * from './path-pattern.js';
export * from './validate.js';
export { FIELD_REFERENCE, hl7Covers } from './validate-hl7.js';
export * from './rule-coverage.js';
export * from './upstream-defaults.js';
export * from './upstream-tls.js';
export * from './load-files.js';
export * from './routing-guard.js';
export * from './record-holder.js';
