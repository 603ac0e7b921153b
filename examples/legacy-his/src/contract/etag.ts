/**
 * Strong entity tags computed from the exact bytes of a JSON representation: equal bytes,
 * equal tag, so any service serving the same representation produces the same ETag (and a
 * client's cached ETag stays valid when an endpoint moves to a new service).
 */
import { createHash } from 'node:crypto';

export function strongEtag(body: string): string {
  return `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
}

function tagsOf(header: string): string[] {
  return header.split(',').map((t) => t.trim()).filter(Boolean);
}

/** If-None-Match uses the weak comparison (RFC 9110 13.1.2): W/"x" matches "x" */
export function noneMatch(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  return tagsOf(header).some((t) => t === '*' || t.replace(/^W\//, '') === etag);
}

/** If-Match uses the strong comparison (RFC 9110 13.1.1): weak tags never match */
export function ifMatch(header: string | undefined, etag: string): boolean {
  if (header === undefined) return true;
  return tagsOf(header).some((t) => t === '*' || t === etag);
}
