export type * from './ops-answers.js';
