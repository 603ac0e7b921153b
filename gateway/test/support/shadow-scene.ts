/**
 * A legacy upstream and a "new service" upstream that answer patient-shaped JSON, with crafted
 * differences a test can switch, for shadow and parity tests.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { RunningGateway } from '../../src/gateway.js';
import type { Handler } from './test-upstream.js';

export function patient(mrn: string) {
  return { mrn, name: `TEST^PATIENT${mrn}`, birthDate: '1970-01-01', ward: '7', identifiers: [{ system: 'mrn', value: mrn }, { system: 'local', value: `L${mrn}` }] };
}

/**
 * Answers JSON with fixed headers, a fixed Date included (else the gateway's server adds one of
 * its own clock, and two answers a second apart differ), so answers compare byte for byte.
 */
export function sendJson(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  res.sendDate = false;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', date: 'Tue, 01 Dec 2026 08:00:00 GMT', 'x-legacy-header': 'kept', 'content-length': String(Buffer.byteLength(text)), ...extra });
  res.end(text);
}

export const mrnOf = (req: IncomingMessage) => /\/(\d+)(?:\?|$)/.exec(req.url ?? '')?.[1] ?? '0';

/** The legacy side: the patient; under /api/encounters with a `nonce` that changes on every call (noise). */
export function legacyHandler(): Handler {
  let calls = 0;
  return (req, res) => {
    if (req.method !== 'GET') return sendJson(res, 201, { ok: true, id: 'legacy-1' });
    if ((req.url ?? '').startsWith('/api/encounters')) return sendJson(res, 200, { ...patient(mrnOf(req)), nonce: ++calls });
    sendJson(res, 200, patient(mrnOf(req)));
  };
}

/** Waits until this instance has compared (or skipped) `n` requests of a rule. */
export async function settled(gw: RunningGateway, rule: string, n: number, timeoutMs = 20_000): Promise<void> {
  const count = () => {
    const c = gw.recorder.compared.get(rule);
    const s = gw.recorder.skips.get(rule);
    let total = 0;
    for (const v of c?.values() ?? []) total += v;
    for (const v of s?.values() ?? []) total += v;
    return total;
  };
  const end = Date.now() + timeoutMs;
  while (count() < n) {
    if (Date.now() > end) throw new Error(`rule ${rule}: ${count()} of ${n} requests settled`);
    await new Promise((r) => setTimeout(r, 10));
  }
  await gw.recorder.flush();
}
