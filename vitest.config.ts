import { availableParallelism } from 'node:os';
import path from 'node:path';
import { defineConfig } from 'vitest/config';
import SlowestFirstSequencer from './test-support/slowest-first.js';

export default defineConfig({
  resolve: {
    // run the workspaces from source, as the deployables do under tsx
    alias: {
      // the subpath before the package: the first alias that matches wins
      '@ficus/contracts/rules': path.resolve(import.meta.dirname, 'contracts/src/rules/index.ts'),
      '@ficus/contracts/queues': path.resolve(import.meta.dirname, 'contracts/src/queues/index.ts'),
      '@ficus/contracts': path.resolve(import.meta.dirname, 'contracts/src/index.ts'),
      '@ficus/legacy-his/contract': path.resolve(import.meta.dirname, 'examples/legacy-his/src/contract/index.ts'),
      '@ficus/legacy-his': path.resolve(import.meta.dirname, 'examples/legacy-his/src/index.ts'),
      '@ficus/hl7-protocol': path.resolve(import.meta.dirname, 'legacy-adapters/hl7-protocol/src/index.ts'),
      '@ficus/service-kit': path.resolve(import.meta.dirname, 'extracted-services/service-kit/src/index.ts'),
      '@ficus/patient-service': path.resolve(import.meta.dirname, 'extracted-services/patient-service/src/index.ts'),
      '@ficus/results-service': path.resolve(import.meta.dirname, 'extracted-services/results-service/src/index.ts'),
    },
  },
  test: {
    include: ['**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**', '.ficus/**'],
    globalSetup: ['test-support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // two files at a time even on two cores (vitest's default is one fewer than the cores): most
    // of a file's time is spent waiting on servers it started, and one at a time the suite took
    // 19 minutes here where two took about 12 (its slowest 94 files: 850 s one at a time, 660 s two).
    // Three were slower again: on the slow 2-vCPU machine of 2026-12-07's night, 309 files took
    // 1,233 s three at a time against 1,165 s two at a time, the two cores saturated
    maxWorkers: Math.max(2, availableParallelism() - 1),
    // the slowest files first, so a fresh clone's run does not end with one of them alone
    sequence: { sequencer: SlowestFirstSequencer },
    reporters: ['default'],
  },
});
