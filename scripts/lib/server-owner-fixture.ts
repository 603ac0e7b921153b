/**
 * An owner of private servers for owner-watchdog.test.ts: starts them through the real code,
 * prints where they are (one JSON line), then waits to be killed. Arguments: what it starts
 * (`redis`: startPrivateRedis; `services`: startLocalServices, PostgreSQL and Redis, ephemeral
 * or not) and the folder (`redis`) or the name under .ficus/ (`services`).
 */
import path from 'node:path';
import { STATE_DIR, startLocalServices, startPrivateRedis } from './local-services.js';

const [what, where, ephemeral] = process.argv.slice(2);
const quiet = () => undefined;

if (what === 'redis') {
  const redis = await startPrivateRedis(where!, quiet, { persistent: true });
  console.log(JSON.stringify({ redisUrl: redis.url }));
} else {
  const services = await startLocalServices({ name: where!, ephemeral: ephemeral === 'ephemeral', log: quiet, durableRedis: true });
  console.log(JSON.stringify({ databaseUrl: services.databaseUrl, redisUrl: services.redisUrl, folder: path.join(STATE_DIR, where!) }));
}
setInterval(() => undefined, 60_000);
