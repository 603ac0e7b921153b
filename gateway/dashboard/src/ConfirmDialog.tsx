/**
 * A modal confirmation with a required reason: the native <dialog> (focus kept inside, Escape
 * cancels, focus returns to the button that opened it), the first field focused on open.
 */
import type { ComponentChildren, VNode } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';

export interface ConfirmDialogProps {
  title: string;
  /** what will happen, in words */
  children?: ComponentChildren;
  confirmLabel: string;
  /** returns an error to show (text, or text with an action), or null when done */
  onConfirm: (reason: string) => Promise<string | VNode | null>;
  onClose: () => void;
  /** checks the dialog's own fields first: false sends nothing (the caller shows why, by the field) */
  validate?: () => boolean;
  /** a reason typed before, when the dialog is opened again */
  initialReason?: string;
}

let dialogs = 0;

export function ConfirmDialog({ title, children, confirmLabel, onConfirm, onClose, validate, initialReason = '' }: ConfirmDialogProps) {
  const ref = useRef<HTMLDialogElement>(null);
  const [id] = useState(() => `dialog-${++dialogs}`);
  const [reason, setReason] = useState(initialReason);
  const [error, setError] = useState<string | VNode | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const d = ref.current!;
    const opener = document.activeElement as HTMLElement | null;
    d.showModal();
    d.querySelector<HTMLElement>('select, input, textarea')?.focus();
    return () => opener?.focus();
  }, []);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (validate && !validate()) {
      // an answer of the API to an earlier attempt would be read as about this one
      setError(null);
      return;
    }
    setBusy(true);
    const err = await onConfirm(reason.trim());
    setBusy(false);
    if (err) setError(err);
    else onClose();
  };

  return (
    <dialog ref={ref} aria-labelledby={`${id}-title`} aria-describedby={`${id}-body`} onCancel={(e) => { e.preventDefault(); onClose(); }}>
      <form onSubmit={submit}>
        <h2 id={`${id}-title`}>{title}</h2>
        <div id={`${id}-body`}>{children}</div>
        <label for={`${id}-reason`}>Reason (kept in the version history and the audit log)</label>
        <textarea id={`${id}-reason`} required minLength={1} maxLength={500} rows={2} value={reason} onInput={(e) => setReason((e.target as HTMLTextAreaElement).value)} />
        {error && (
          <div role="alert" class="error">
            {error}
          </div>
        )}
        <div class="actions">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy || reason.trim() === ''}>
            {busy ? 'Working…' : confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}
