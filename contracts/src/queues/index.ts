// Queue consumers for the services, apart from the main entry so that deployables that do not
// consume queues (the gateway) do not load BullMQ.
export * from './partitioned-consumer.js';
export * from './change-consumer.js';
export * from './outbox.js';
export * from './dead-letters.js';
export * from './dead-letter-routes.js';
export * from '../postgres/database-errors.js';
export * from './not-now.js';
export * from './key-by-key.js';
export * from './snapshot-ends.js';
