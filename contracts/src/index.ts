export * from './rules/model.js';
export * from './rules/path-pattern.js';
export * from './rules/validate.js';
export * from './rules/load-files.js';
export * from './config.js';
export * from './logger.js';
export * from './problem.js';
