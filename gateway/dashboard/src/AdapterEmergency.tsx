/**
 * The HL7 adapter's emergency override file, said above the rules beside the gateway's: the
 * adapter reads a file of its own for the HL7 rules, and before GET /api/hl7/emergency only its
 * /readyz (not behind the admin API) said whether it held one, so the HL7 rows read `new` while
 * admissions went to the legacy inbound. Read on a poll of its own: an adapter slow to answer
 * (a 504 after the admin API's 30 s) must not hold up the rules.
 */
import { ApiError, get, unreadText } from './api';
import { since } from './format';
import type { Hl7EmergencyAnswer } from './types';
import { usePoll, type Polled } from './usePoll';

export const useAdapterEmergency = () => usePoll(() => get<Hl7EmergencyAnswer>('/api/hl7/emergency'));

const list = (ids: string[]) => ids.join(', ');

/** Why the adapter's override is not known: an adapter that predates the route answers 404 itself. */
function unknownText(e: unknown): string {
  if (e instanceof ApiError && e.status === 404 && e.problem.type === undefined) return 'the HL7 adapter does not say (HTTP 404: an adapter from before 7 December 2026)';
  return unreadText('the HL7 adapter', e).replace(/ The page keeps trying\.$/, '').replace(/\.$/, '');
}

export function AdapterEmergency({ polled, hl7Rules }: { polled: Polled<Hl7EmergencyAnswer>; hl7Rules: number }) {
  const a = polled.data;
  const o = a?.override;
  if (polled.error !== undefined) {
    if (hl7Rules === 0) return null;
    return (
      <p class="muted small" data-testid="hl7-emergency-unknown">
        Whether the HL7 adapter's emergency file holds HL7 rules in legacy is not known: {unknownText(polled.error)}.
      </p>
    );
  }
  if (!a || (!o && !a.lastRefused)) return null;
  return (
    <div class="alerts" data-testid="hl7-emergency-notice">
      {o && (
        <>
          <p>
            <strong>⚠ Emergency override on the HL7 adapter</strong> (instance {a.instance.hostname}) since {since(o.since)}
            {o.by ? ` by ${o.by}` : ''}
            {o.reason ? `: ${o.reason}` : ''} <span class="muted small">({a.file})</span>
          </p>
          <ul class="plain">
            <li>
              {o.pinned.length > 0 ? (
                <>
                  HL7 rules held in legacy whatever their mode (their messages go to the legacy inbound only): <strong>{list(o.pinned)}</strong>. A flip is stored but does not serve on the adapter until the file is removed.
                </>
              ) : (
                'It holds no HL7 rule in legacy.'
              )}
            </li>
            {o.http.length > 0 && <li>{list(o.http)}: HTTP, not held by the adapter's file (the gateway's own file holds HTTP rules).</li>}
            {o.unknown.length > 0 && <li>{list(o.unknown)}: no such rule in the adapter's rules (a typo?), nothing held.</li>}
          </ul>
        </>
      )}
      {a.lastRefused && (
        <p class="warn" data-testid="hl7-emergency-refused">
          The HL7 adapter refused its emergency file at {since(a.lastRefused.at)}: {a.lastRefused.issues.join('; ')}. {o ? 'The override in force stays.' : 'No override is in force.'}
        </p>
      )}
    </div>
  );
}
