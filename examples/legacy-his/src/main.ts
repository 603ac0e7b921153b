/**
 * Entry point of the legacy HIS deployable.
 */
import { configOrExit, createLogger, runDeployable } from '@ficus/contracts';
import { loadLegacyHisConfig } from './config.js';
import { startLegacyHis } from './start-legacy-his.js';

const config = configOrExit('legacy-his', () => loadLegacyHisConfig());
const log = createLogger('legacy-his', { level: config.LOG_LEVEL });

await runDeployable({
  name: 'legacy HIS',
  log,
  start: async () => {
    const his = await startLegacyHis(config, log);
    log.info({ port: his.port, hl7Port: his.hl7?.port ?? null }, 'legacy HIS listening');
    return his;
  },
  finishing: 'finishing in-flight requests',
  // the server's own drain, plus time to close the database pool and the HL7 inbound
  shutdownTimeoutMs: config.LEGACY_HIS_SHUTDOWN_TIMEOUT_MS + 2_000,
});
