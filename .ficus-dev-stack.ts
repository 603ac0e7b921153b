// temporary dev helper (not committed): a gateway on a store, for manual CLI runs
import { writeFileSync } from 'node:fs';
import { startLocalServices } from './scripts/lib/local-services.js';
import { createTestDatabase } from './test-support/databases.js';
import { seedRules, startStoreGateway } from './gateway/test/support/store-gateway.js';
import { startTestUpstream } from './gateway/test/support/test-upstream.js';
const services = await startLocalServices({ name: `clidev-${process.pid}`, ephemeral: true });
const db = await createTestDatabase(services.databaseUrl, 'clidev');
const legacy = await startTestUpstream('legacy');
const fresh = await startTestUpstream('new');
const gw = await startStoreGateway({ storeUrl: db.url, redisUrl: services.redisUrl, files: seedRules(legacy.url, fresh.url) });
writeFileSync('/tmp/ficusdev/env', `export FICUS_ADMIN_URL=${gw.adminUrl}\nexport GW_URL=${gw.url}\nexport FICUS_TOKEN=ficus_test-admin-token-0123456789abcdefghijklmnopqrstuv\n`);
console.log('up', gw.adminUrl, gw.url);
const stop = async () => { await gw.close(); await legacy.close(); await fresh.close(); await db.drop(); await services.stop(); process.exit(0); };
process.on('SIGTERM', stop); process.on('SIGINT', stop);
