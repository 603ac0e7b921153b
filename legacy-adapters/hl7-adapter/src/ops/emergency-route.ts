/**
 * GET /api/hl7/emergency: this instance's emergency override file, as /readyz says it, under the
 * prefix the admin API passes through. /readyz itself is not behind the admin API, so the
 * dashboard could say what the gateway's file holds but not whether the adapter holds an HL7 rule
 * in legacy: the rules table showed `new` while admissions went to legacy.
 */
import { hostname } from 'node:os';
import type { FastifyInstance, FastifySchema } from 'fastify';
import type { Hl7EmergencyAnswer } from '@ficus/contracts/api';
import type { Hl7EmergencyFile } from '../routing/hl7-emergency.js';

export function emergencyRoute(app: FastifyInstance, emergency: Pick<Hl7EmergencyFile, 'status'>): void {
  app.get('/api/hl7/emergency', {
    config: { role: 'viewer' },
    schema: {
      tags: ['hl7'],
      summary: "This adapter instance's emergency override file: the HL7 rules it holds in legacy whatever the rule store serves (no `override`: none in force), and its last refused content",
      // only the API documentation's fields: FastifySchema knows them only where @fastify/swagger is loaded (the gateway), not in this package's own build
    } as FastifySchema,
    handler: async (): Promise<Hl7EmergencyAnswer> => {
      const s = emergency.status();
      const o = s.override;
      return {
        instance: { hostname: hostname(), pid: process.pid },
        file: s.file,
        ...(o
          ? {
              override: {
                rules: o.rules === 'all' ? 'all' : [...o.rules],
                ...(o.reason !== undefined ? { reason: o.reason } : {}),
                ...(o.by !== undefined ? { by: o.by } : {}),
                since: o.since,
                pinned: o.pinned,
                unknown: o.unknown,
                http: o.http,
              },
            }
          : {}),
        ...(s.lastRefused ? { lastRefused: s.lastRefused } : {}),
      };
    },
  });
}
