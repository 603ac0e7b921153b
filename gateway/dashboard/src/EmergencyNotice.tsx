/**
 * This gateway instance's emergency override file, said above the rules: a badge's tooltip alone
 * is seen by no one who does not hover it. The file is read per component, so an HL7 rule it
 * names is not held by this gateway (it routes no HL7): the HL7 adapter holds it only if its own
 * file names it (AdapterEmergency.tsx says that one), and the notice says whether it does, as far
 * as the adapter's answer tells (holds.ts hl7NamedNote). Saying so keeps an operator on duty from
 * believing admissions went back to legacy when only the gateway's file was written.
 */
import { since } from './format';
import { hl7NamedNote } from './holds';
import type { Hl7EmergencyAnswer, RulesAnswer } from './types';

type Emergency = NonNullable<RulesAnswer['emergency']>;

const list = (ids: string[]) => ids.join(', ');

export function EmergencyNotice({ e, adapter }: { e: Emergency; adapter: Hl7EmergencyAnswer | undefined }) {
  const hl7 = hl7NamedNote(e, adapter);
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
        {hl7 && <li data-testid="emergency-hl7">{hl7}</li>}
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
