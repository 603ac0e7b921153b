/**
 * The legacy HIS's HTTP contract (examples/legacy-his/README.md, "HTTP contract") as code:
 * the error body and its codes, ETags, the JSON shapes of patients, stays and results (made
 * from a store's neutral record), the request schemas and their messages, input
 * normalisation, the query rules and the routes over a store. The stand-in serves it, and so
 * does every service that takes one of its endpoints over (`@ficus/legacy-his/contract`): a
 * change to the contract happens here, once. Nothing here knows how anything is stored.
 */
export * from './errors.js';
export * from './etag.js';
export * from './schema-types.js';
export * from './postgres.js';
export * from './patient-schemas.js';
export * from './patient-input.js';
export * from './patient-routes.js';
export * from './clinical-records.js';
export * from './clinical-routes.js';
export * from './exact-json.js';
