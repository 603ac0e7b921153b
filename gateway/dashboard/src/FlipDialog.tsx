/**
 * The flip dialog of one rule: its mode now and the version it was opened on, the new mode (and
 * canary percent), force for admins, and, when an emergency override file holds the rule, that a
 * flip is stored but does not serve until the file is removed (said before the flip, not learnt
 * from the table afterwards).
 */
import { useState } from 'preact/hooks';
import { post, type Role } from './api';
import { ConfirmDialog } from './ConfirmDialog';
import { holdBefore, type Hold } from './holds';
import { parsePercent } from './percent';
import { refusal } from './Refusal';
import type { Rule } from './types';

const HTTP_MODES = ['legacy', 'shadow', 'canary', 'new', 'retired'];
const HL7_MODES = ['legacy', 'dual', 'new'];

export const describeMode = (r: Rule) => (r.mode === 'canary' ? `canary ${r.percent ?? 0} %` : r.mode);

/** a flip dialog: the rule as it was, and the version it was, when the dialog was opened */
export interface Flipping {
  row: { rule: Rule; kind: 'http' | 'hl7' };
  version: number;
  reason: string;
}

export interface Flipped {
  version: number;
  changed: boolean;
  change?: { summary: string };
  warnings?: { reason: string }[];
}

export interface FlipDialogProps {
  flipping: Flipping;
  role: Role;
  /** the emergency override file holding the rule in legacy, when one does */
  hold: Hold | null;
  /** the flip's answer, and the mode it asked for */
  onFlipped: (answer: Flipped, mode: string) => void;
  /** opens the dialog again on the rules as they are now (after a stale-version refusal) */
  onReopen: (reason: string) => void;
  onClose: () => void;
}

export function FlipDialog({ flipping, role, hold, onFlipped, onReopen, onClose }: FlipDialogProps) {
  const { rule, kind } = flipping.row;
  const [mode, setMode] = useState(rule.mode);
  // only the rule's own percent is filled in; any other would be sent without being typed
  const [percentText, setPercentText] = useState(rule.mode === 'canary' && rule.percent !== undefined ? String(rule.percent) : '');
  const [percentChecked, setPercentChecked] = useState(false);
  const [force, setForce] = useState(false);
  const percent = parsePercent(percentText);
  // shown from the first try to flip, not on blur: a message appearing as the field loses focus
  // to the Flip button moves that button from under the pointer, and the click is lost
  const percentError = mode === 'canary' && percentChecked && !percent.ok ? percent.error : null;

  const validate = () => {
    setPercentChecked(true);
    if (mode !== 'canary' || percent.ok) return true;
    document.getElementById('flip-percent')?.focus();
    return false;
  };

  const flip = async (reason: string) => {
    if (mode === 'canary' && !percent.ok) return percent.error;
    try {
      const r = await post<Flipped>(`/api/rules/${encodeURIComponent(rule.id)}/flip`, {
        mode,
        ...(mode === 'canary' && percent.ok ? { percent: percent.value } : {}),
        reason,
        baseVersion: flipping.version,
        ...(force ? { force: true } : {}),
      });
      onFlipped(r, mode);
      return null;
    } catch (e) {
      return refusal(e, role === 'admin', () => onReopen(reason));
    }
  };

  return (
    <ConfirmDialog title={`Flip ${rule.id}`} confirmLabel="Flip" onConfirm={flip} validate={validate} initialReason={flipping.reason} onClose={onClose}>
      <p>
        Now (version {flipping.version}): <strong>{describeMode(rule)}</strong>
        {rule.target ? ` (target ${rule.target})` : ''}. Every gateway instance follows within a second; a rollback undoes it.
      </p>
      {hold && (
        <p class="warn" data-testid="flip-held">
          <strong>⚠ {holdBefore(rule.id, hold)}</strong>
        </p>
      )}
      <label for="flip-mode">New mode</label>
      <select id="flip-mode" value={mode} onChange={(e) => setMode((e.target as HTMLSelectElement).value)}>
        {(kind === 'http' ? HTTP_MODES : HL7_MODES).map((m) => (
          <option key={m} value={m}>
            {m}
          </option>
        ))}
      </select>
      {mode === 'canary' && (
        <>
          <label for="flip-percent">Percent of patients to the new service</label>
          <input
            id="flip-percent"
            type="text"
            inputMode="decimal"
            autocomplete="off"
            value={percentText}
            onInput={(e) => setPercentText((e.target as HTMLInputElement).value)}
            aria-invalid={percentError ? 'true' : undefined}
            aria-describedby={percentError ? 'flip-percent-hint flip-percent-error' : 'flip-percent-hint'}
          />
          <p id="flip-percent-hint" class="help">
            0 to 100, up to two decimals
          </p>
          {percentError && (
            <p id="flip-percent-error" class="error" data-testid="percent-error">
              {percentError}
            </p>
          )}
        </>
      )}
      {role === 'admin' && (
        <div class="check">
          <input id="flip-force" type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} />
          <label for="flip-force">Force past a closed parity gate (audited as forced)</label>
        </div>
      )}
    </ConfirmDialog>
  );
}
