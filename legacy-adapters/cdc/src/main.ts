/**
 * Entry point of the CDC deployable: change-data capture of the legacy database to the new
 * services' queues, and write-back of their outbox events to the legacy database.
 */
import { configOrExit, createLogger, runDeployable } from '@ficus/contracts';
import { startCdc } from './cdc-service.js';
import { legacyUrl, loadCdcConfig, publicationOf } from './config.js';
import { loadMapping } from './mapping/mapping-file.js';
import { explainStartError, mappedTables, userOf } from './postgres/privileges.js';

const config = configOrExit('cdc', () => loadCdcConfig());
const log = createLogger('cdc', { level: config.LOG_LEVEL });

/** a privilege the database refused is explained in the words of the grant that gives it */
async function explained(e: unknown): Promise<unknown> {
  if (config.CDC_SOURCE_KIND !== 'postgres') return e;
  const mapping = await loadMapping(config.CDC_MAPPING_FILE).catch(() => undefined);
  if (!mapping) return e;
  const source = config.CDC_SOURCE_NAME ?? mapping.source;
  return explainStartError(e, { legacyUser: userOf(legacyUrl(config)), ficusUser: userOf(config.DATABASE_URL), publication: publicationOf(config, source), tables: mappedTables(mapping) });
}

await runDeployable({
  name: 'CDC',
  log,
  start: () => startCdc(config, log).catch(async (e: unknown) => Promise.reject(await explained(e))),
  finishing: 'enqueuing the changes in hand',
  shutdownTimeoutMs: config.FICUS_SHUTDOWN_TIMEOUT_MS,
});
