export * from './partition.js';
export * from './change-event.js';
export * from './hl7-job.js';
