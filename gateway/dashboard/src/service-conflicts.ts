/**
 * Why a new service's conflicts could not be read, in words for the Conflicts panel. A service
 * that gave no answer is "unavailable", never a count of 0: its conflicts may be waiting unseen.
 * A plain 404 without a problem body is the service itself answering a route it does not have:
 * it runs a Ficus version older than conflict review (the admin API's own 404 for a route it
 * does not pass through is a problem body). Imports only what runs under Node: the unit test
 * runs it there.
 */
import { componentTrouble, troubleText } from './components.js';

export const CONFLICT_SERVICES = ['patient-service', 'results-service'] as const;
export type ConflictService = (typeof CONFLICT_SERVICES)[number];

interface ProblemLike {
  type?: unknown;
  title?: unknown;
  detail?: unknown;
}

/** what the panel says instead of a service's counts: `status` null when the admin API itself did not answer */
export function conflictsUnreadText(service: ConflictService, status: number | null, problem: ProblemLike = {}): string {
  if (status === null) return `${service}: no answer from the admin API. The page keeps trying.`;
  if (status === 404 && typeof problem.type !== 'string') return `${service} does not offer conflict review: it answered HTTP 404, as a service older than conflict review does. Upgrade it to read its conflicts here or with \`ficus conflicts list\`.`;
  const trouble = componentTrouble(status, problem);
  if (trouble) return troubleText(service, trouble);
  const title = typeof problem.title === 'string' ? problem.title : `HTTP ${status}`;
  return `${service}: the read failed (HTTP ${status}: ${title}${typeof problem.detail === 'string' ? `: ${problem.detail}` : ''}). The page keeps trying.`;
}

/** a conflict's key as the CLI shows it: mrn=1234567 */
export const keyText = (key: Record<string, unknown>) =>
  Object.entries(key)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
