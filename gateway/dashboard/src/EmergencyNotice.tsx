/**
 * This gateway instance's emergency override file, said above the rules: a badge's tooltip alone
 * is seen by no one who does not hover it. The file is read per component, so an HL7 rule it
 * names is not held by this gateway (it routes no HL7): the HL7 adapter holds it only if its own
 * file names it (AdapterEmergency.tsx says that one). Saying so keeps an operator on duty from
 * believing admissions went back to legacy when only the gateway's file was written.
 */
import { since } from './format';
import type { RulesAnswer } from './types';

type Emergency = NonNullable<RulesAnswer['emergency']>;

const list = (ids: string[]) => ids.join(', ');

export function EmergencyNotice({ e }: { e: Emergency }) {
  const hl7 = e.hl7 ?? [];
  const unknown = e.unknown ?? [];
  const retired = e.retired ?? [];
  return (
    <div class="alerts" data-testid="emergency-notice">
      <p>
        <strong>⚠ Emergency override on this gateway instance</strong> since {since(e.since)}
        {e.by ? ` by ${e.by}` : ''}
        {e.reason ? `: ${e.reason}` : ''} <span class="muted small">({e.file})</span>
      </p>
      <ul class="plain">
        <li>
          {e.pinned.length > 0 ? <>Held in legacy whatever their mode: <strong>{list(e.pinned)}</strong>. A flip is stored but does not serve until the file is removed.</> : 'It holds no HTTP rule of this gateway in legacy.'}
        </li>
        {hl7.length > 0 && (
          <li data-testid="emergency-hl7">
            <strong>{list(hl7)}</strong>: HL7, not held by this file. The gateway routes no HL7 messages; the HL7 adapter holds {hl7.length === 1 ? 'this rule' : 'these rules'} in legacy only if its own emergency file names {hl7.length === 1 ? 'it' : 'them'} (said below when it does).
          </li>
        )}
        {hl7.length === 0 && e.rules === 'all' && (
          <li data-testid="emergency-hl7">
            HL7 rules: not held by this file (<code>rules: all</code> is all of this gateway's, and it routes no HL7 messages); the HL7 adapter holds them in legacy only if its own emergency file says so (said below when it does).
          </li>
        )}
        {retired.length > 0 && <li>{list(retired)}: retired, not held (legacy is no longer called for them).</li>}
        {unknown.length > 0 && (
          <li data-testid="emergency-unknown">
            <strong>{list(unknown)}</strong>: no such rule in the rules this instance serves (a typo?), nothing held.
          </li>
        )}
      </ul>
    </div>
  );
}
