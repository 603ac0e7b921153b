/**
 * Everything main.ts does short of signal handling: migrate, seed, listen. Exported so that
 * demo scripts and other packages' tests can run a complete legacy HIS in-process.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { Logger } from '@ficus/contracts';
import { buildLegacyHis } from './app.js';
import type { LegacyHisConfig } from './config.js';
import { migrateLegacy } from './db/migrate-legacy.js';
import { seedLegacy } from './seed/seed-database.js';

export interface RunningLegacyHis {
  app: FastifyInstance;
  pool: pg.Pool;
  port: number;
  /** http://host:port, with 127.0.0.1 for a wildcard host */
  url: string;
  /** stops accepting, lets in-flight requests finish (cut after the shutdown timeout), ends the pool */
  close(): Promise<void>;
}

export type StartOptions = Pick<LegacyHisConfig, 'LEGACY_DATABASE_URL'> & Partial<LegacyHisConfig>;

export async function startLegacyHis(config: StartOptions, log: Logger): Promise<RunningLegacyHis> {
  if (config.LEGACY_HIS_MIGRATE !== false) {
    await migrateLegacy(config.LEGACY_DATABASE_URL, { migrationsDir: config.LEGACY_HIS_MIGRATIONS_DIR, log });
  }
  const pool = new pg.Pool({ connectionString: config.LEGACY_DATABASE_URL, max: config.LEGACY_DATABASE_POOL_MAX ?? 10 });
  // an idle client losing its connection (database restart) must not crash the process
  pool.on('error', (err) => log.warn({ errCode: (err as { code?: string }).code }, 'idle database connection lost'));
  try {
    const patients = config.LEGACY_HIS_SEED_PATIENTS ?? 0;
    if (patients > 0) {
      const report = await seedLegacy(pool, { patients, seed: config.LEGACY_HIS_SEED });
      if (report.seeded) log.info(report, 'seeded synthetic patients');
      else log.info('database already has patients: seed skipped');
    }
    const app = await buildLegacyHis({ pool, log, accessLog: config.LEGACY_HIS_ACCESS_LOG });
    const host = config.LEGACY_HIS_HOST ?? '127.0.0.1';
    await app.listen({ host, port: config.LEGACY_HIS_PORT ?? 0 });
    const port = (app.server.address() as AddressInfo).port;
    const shutdownTimeoutMs = config.LEGACY_HIS_SHUTDOWN_TIMEOUT_MS ?? 10_000;
    return {
      app,
      pool,
      port,
      url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
      async close() {
        // slow reports and big downloads may outlive a patient orchestrator; cut them in the end
        const force = setTimeout(() => app.server.closeAllConnections(), shutdownTimeoutMs);
        force.unref();
        try {
          await app.close();
        } finally {
          clearTimeout(force);
          await pool.end();
        }
      },
    };
  } catch (e) {
    await pool.end();
    throw e;
  }
}
