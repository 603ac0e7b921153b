/**
 * Everything main.ts does short of signal handling: migrate, seed, listen (HTTP, and MLLP for
 * the HL7 inbound). Exported so that demo scripts and other packages' tests can run a complete
 * legacy HIS in-process.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import type { Logger } from '@ficus/contracts';
import { buildLegacyHis } from './app.js';
import type { LegacyHisConfig } from './config.js';
import { migrateLegacy } from './db/migrate-legacy.js';
import { startHl7Inbound, type RunningHl7Inbound } from './hl7/hl7-inbound.js';
import { seedLegacy } from './seed/seed-database.js';
import { preferMrnAuthorities } from '@ficus/hl7-protocol';

export interface RunningLegacyHis {
  app: FastifyInstance;
  pool: pg.Pool;
  port: number;
  /** http://host:port, with 127.0.0.1 for a wildcard host */
  url: string;
  /** the HL7 inbound, when LEGACY_HIS_HL7_PORT was given and is not 0 */
  hl7: RunningHl7Inbound | undefined;
  /**
   * stops accepting, lets in-flight requests and HL7 messages finish (cut after the shutdown
   * timeout), ends the pool; calling it again waits for the same close
   */
  close(): Promise<void>;
}

/**
 * The configuration; anything left out takes the default of the HTTP port (0: a free port)
 * and no HL7 inbound (LEGACY_HIS_HL7_PORT absent or 0), so that several can run side by side.
 * loadLegacyHisConfig() gives the deployable's defaults (8000 and 2576).
 */
export type StartOptions = Pick<LegacyHisConfig, 'LEGACY_DATABASE_URL'> & Partial<LegacyHisConfig>;

export async function startLegacyHis(config: StartOptions, log: Logger): Promise<RunningLegacyHis> {
  // this hospital's MRNs among other facilities' in PID-3 (a process-wide setting of the HL7 readers)
  if (config.HL7_MRN_AUTHORITIES) preferMrnAuthorities(config.HL7_MRN_AUTHORITIES.split(','));
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
    const shutdownTimeoutMs = config.LEGACY_HIS_SHUTDOWN_TIMEOUT_MS ?? 10_000;
    let hl7: RunningHl7Inbound | undefined;
    try {
      await app.listen({ host, port: config.LEGACY_HIS_PORT ?? 0 });
      const hl7Port = config.LEGACY_HIS_HL7_PORT ?? 0;
      if (hl7Port > 0) {
        hl7 = await startHl7Inbound({
          pool,
          port: hl7Port,
          host,
          log,
          idleTimeoutMs: config.LEGACY_HIS_HL7_IDLE_TIMEOUT_MS,
          maxFrameBytes: config.LEGACY_HIS_HL7_MAX_FRAME_BYTES,
          shutdownTimeoutMs,
        });
      }
    } catch (e) {
      await app.close();
      throw e;
    }
    const port = (app.server.address() as AddressInfo).port;
    let closing: Promise<void> | undefined;
    return {
      app,
      pool,
      port,
      url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}`,
      hl7,
      close() {
        closing ??= (async () => {
          // slow reports and big downloads may outlive a patient orchestrator; cut them in the end
          const force = setTimeout(() => app.server.closeAllConnections(), shutdownTimeoutMs);
          force.unref();
          try {
            // HL7 messages being applied finish (and are answered) while the pool is still open
            await Promise.all([hl7?.close(), app.close()]);
          } finally {
            clearTimeout(force);
            await pool.end();
          }
        })();
        return closing;
      },
    };
  } catch (e) {
    await pool.end();
    throw e;
  }
}
