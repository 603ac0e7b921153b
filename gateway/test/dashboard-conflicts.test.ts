/**
 * What the dashboard's Conflicts panel says when a service's conflicts cannot be read
 * (gateway/dashboard/src/service-conflicts.ts): never a count, and a plain 404 (the service's
 * own, no problem body) as a service older than conflict review, apart from the admin API's own
 * 404 for a route it does not pass through. The panel itself: dashboard-conflicts.browser.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { conflictsUnreadText, keyText } from '../dashboard/src/service-conflicts.js';

describe("the Conflicts panel's words for a service it cannot read", () => {
  it('tells a service too old from one not reachable, slow, failing, or an admin API that does not answer', () => {
    expect(conflictsUnreadText('results-service', 404, { message: 'Route GET:/api/services/results-service/conflicts?limit=20 not found', error: 'Not Found', statusCode: 404 } as never)).toMatch(
      /^results-service does not offer conflict review: it answered HTTP 404, as a service older than conflict review does\./,
    );
    expect(conflictsUnreadText('results-service', 404, { type: 'https://ficus.dev/problems/not-found', title: 'Not found', detail: 'no route GET /api/services/results-service/conflicts' })).toMatch(
      /^results-service is not running, or not reachable through the admin API \(HTTP 404: no route/,
    );
    expect(conflictsUnreadText('patient-service', 503, { type: 'https://ficus.dev/problems/component-unavailable', detail: 'does not answer (ECONNREFUSED)' })).toMatch(/^patient-service is not running/);
    expect(conflictsUnreadText('patient-service', 504, { type: 'https://ficus.dev/problems/component-timeout' })).toMatch(/^patient-service did not answer in time/);
    expect(conflictsUnreadText('patient-service', 500, { type: 'https://ficus.dev/problems/internal-error', title: 'Internal error', detail: 'see the patient-service log' })).toBe(
      'patient-service: the read failed (HTTP 500: Internal error: see the patient-service log). The page keeps trying.',
    );
    expect(conflictsUnreadText('patient-service', null)).toBe('patient-service: no answer from the admin API. The page keeps trying.');
    expect(keyText({ mrn: '1234567' })).toBe('mrn=1234567');
  });
});
