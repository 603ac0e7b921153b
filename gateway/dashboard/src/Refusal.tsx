/**
 * A flip or rollback the admin API refused, as its dialog shows it. A stale version names the
 * change that got there first and offers to reopen the dialog on the rules as they are now: the
 * operator decides again from what another operator made, instead of writing over it.
 */
import type { VNode } from 'preact';
import { ApiError, refusalText } from './api';
import { clock } from './format';
import { gateRefusal, staleVersion, type StaleVersion } from './refusals';

function Stale({ s, reopen }: { s: StaleVersion; reopen: () => void }) {
  const l = s.latest;
  const at = l?.createdAt ? Date.parse(l.createdAt) : NaN;
  return (
    <>
      <p>
        <strong>Someone changed the rules first; nothing was changed.</strong> This dialog was opened on version {s.opened}; the rules are now at version {s.current}
        {l && (
          <>
            {' '}
            (version {l.version}
            {l.summary ? `: ${l.summary}` : ''}, by {l.author}
            {Number.isNaN(at) ? '' : ` at ${clock(at)}`}
            {l.reason ? `, “${l.reason}”` : ''})
          </>
        )}
        . Look at the rules as they are now before you try again.
      </p>
      <button type="button" onClick={reopen}>
        Reopen on version {s.current}
      </button>
    </>
  );
}

/** `reopen` opens the same dialog again on the current version (a stale version only). */
export function refusal(e: unknown, canForce: boolean, reopen: () => void): string | VNode {
  if (e instanceof ApiError) {
    const stale = staleVersion(e.status, e.problem);
    if (stale) return <Stale s={stale} reopen={reopen} />;
    const gate = gateRefusal(e.problem, canForce);
    if (gate) return gate;
  }
  return refusalText(e);
}
