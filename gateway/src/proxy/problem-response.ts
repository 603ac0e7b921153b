/**
 * Errors the gateway answers itself, as RFC 9457 problem+json.
 */
import type { ServerResponse } from 'node:http';
import { problem, PROBLEM_CONTENT_TYPE } from '@ficus/contracts';

export function sendProblem(
  res: ServerResponse,
  status: number,
  slug: string,
  title: string,
  detail: string,
  requestId: string,
  route: string | undefined,
): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(problem(status, slug, title, detail, { instance: `urn:ficus:request:${requestId}` }));
  const headers: string[] = ['content-type', PROBLEM_CONTENT_TYPE, 'content-length', String(Buffer.byteLength(body)), 'cache-control', 'no-store', 'x-request-id', requestId];
  if (route !== undefined) headers.push('x-ficus-route', route);
  res.writeHead(status, headers);
  res.end(body);
}
