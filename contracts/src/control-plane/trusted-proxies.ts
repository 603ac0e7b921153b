/**
 * Whose X-Forwarded-For a component's admin routes believe. The admin API passes /api/hl7/*,
 * /api/cdc/* and /api/services/<service>/* through and names its caller in X-Forwarded-For
 * (never what the caller claimed); the component's audit log should record that caller, not the
 * admin API's address. Only peers in the list are believed: anyone else reaching the component
 * directly with a forged header is recorded by its socket address. One setting format for the
 * HL7 adapter (HL7_API_TRUSTED_PROXIES), the CDC deployable (CDC_API_TRUSTED_PROXIES) and the
 * services (SERVICE_API_TRUSTED_PROXIES).
 */
import { Env } from '../config.js';

/** the default: the admin API on the same host (the demo stack, one machine) */
export const LOOPBACK_PROXIES = '127.0.0.1,::1,::ffff:127.0.0.1';

/** The setting as an environment variable: the admin API's addresses (or CIDRs), comma-separated; empty: none. */
export const trustedProxiesEnv = (prefix: string) =>
  Env.string(LOOPBACK_PROXIES, `addresses or CIDRs whose X-Forwarded-For is believed (the admin API passing ${prefix}/* through), comma-separated, so the audit log names the caller's address; empty: none`);

/** Fastify's trustProxy for the setting: the list, or false (the socket's address) when it is empty. */
export function trustedProxies(setting: string): false | string {
  const list = setting
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean);
  return list.length === 0 ? false : list.join(',');
}
