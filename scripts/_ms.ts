import pg from 'pg';
import path from 'node:path';
import { withDatabase, runMigrations, createLogger } from '@ficus/contracts';
import { startLocalServices } from './lib/local-services.js';
import { MessageStore } from '../legacy-adapters/hl7-adapter/src/store/message-store.js';
const s = await startLocalServices({ name: `ms-${process.pid}`, ephemeral: true, log: () => undefined });
const url = withDatabase(s.databaseUrl, 'postgres');
await runMigrations({ databaseUrl: url, dir: path.resolve('migrations/hl7'), table: 'm', log: createLogger('x', { level: 'silent' }) });
const pool = new pg.Pool({ connectionString: url, max: 4 });
const store = new MessageStore(pool);
const rec = (i: number) => ({ sendingApplication: 'A', sendingFacility: 'F', receivingApplication: 'R', receivingFacility: 'RF', controlId: `C${i}`, messageType: 'ADT', triggerEvent: 'A08', version: '2.5', processingId: 'P', acceptAckType: '', applicationAckType: '', patientKey: 'P1^F', charset: 'UNICODE UTF-8', raw: Buffer.alloc(800, 65), peer: null, ruleId: 'r', mode: 'legacy', ackCode: 'AA', deliveries: [{ target: 'legacy:x', partition: 1 }] });
const lat: number[] = [];
for (let i = 0; i < 400; i++) { const t = performance.now(); await store.store(rec(i)); lat.push(performance.now() - t); }
lat.sort((a, b) => a - b);
console.log('store() p50', lat[200]!.toFixed(2), 'p90', lat[360]!.toFixed(2), 'p99', lat[396]!.toFixed(2));
await pool.end(); await s.stop();
