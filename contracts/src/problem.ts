/**
 * RFC 9457 problem details: the one error body every Ficus HTTP endpoint answers with.
 */
export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

const BASE = 'https://ficus.dev/problems/';

export function problem(status: number, slug: string, title: string, detail?: string, extra: Record<string, unknown> = {}): Problem {
  return { type: BASE + slug, title, status, ...(detail ? { detail } : {}), ...extra };
}
