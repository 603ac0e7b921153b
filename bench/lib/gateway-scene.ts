/**
 * What the gateway benchmark's runs share: the rule set Ficus runs with, its Node flags (given to
 * the bare undici forwarder too), and nginx as a reverse proxy.
 */
import { imageNodeFlags } from './image-flags.js';
import { startNginx } from './nginx.js';

/** the gateway's Node flags, also given to the bare undici forwarder: like for like */
export const gatewayFlags = () => imageNodeFlags('gateway/dist/main.js');

/** 50+ rules, the hit rule (a sticky canary) deep in the list, the way a real migration looks. */
export function benchRules(): string {
  const areas = ['pharmacy', 'radiology', 'orders', 'billing', 'scheduling', 'documents', 'nursing', 'theatre', 'referrals', 'allergies', 'vitals', 'imaging'];
  const lines: string[] = ['http:'];
  let n = 0;
  for (const area of areas) {
    for (const [suffix, methods, mode] of [
      [':id', '[GET]', 'legacy'],
      ['', '[GET]', 'legacy'],
      [':id', '[POST, PUT]', 'legacy'],
      [':id/history', '[GET]', 'new'],
    ] as const) {
      if (n === 40) {
        lines.push(
          '  - id: patients-read',
          '    match: { methods: [GET], path: /api/patients/:mrn }',
          '    mode: canary',
          '    percent: 50',
          '    target: patient-service',
          '    sticky: { param: mrn }',
        );
      }
      n++;
      lines.push(`  - id: ${area}-${n}`, `    match: { methods: ${methods}, path: /api/${area}${suffix ? '/' + suffix : ''} }`, `    mode: ${mode}`, '    target: patient-service');
    }
  }
  lines.push('  - id: legacy-default', '    match: { path: /** }', '    mode: legacy');
  return lines.join('\n') + '\n';
}

/** nginx (one worker) as a reverse proxy in front of `upstream` */
export const nginxProxy = (dir: string, port: number, upstream: string, core?: string) =>
  startNginx(dir, port, 'location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }', `upstream up { server 127.0.0.1:${new URL(upstream).port}; keepalive 128; }`, core);
