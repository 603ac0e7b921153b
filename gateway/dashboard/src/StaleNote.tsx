/**
 * A panel that keeps the figures it last read while its reads fail (an answer that is an error,
 * not "not running") must say they are old: otherwise a CDC source reads "streaming, lag 0.0 s"
 * for as long as its API answers 500. The rules and the changes have the page's banner instead.
 */
import { ApiError, troubleOf } from './api';
import { clock } from './format';
import type { Polled } from './usePoll';

export function StaleNote({ polled }: { polled: Pick<Polled<unknown>, 'data' | 'error' | 'okAt'> }) {
  if (polled.error === undefined || polled.data === undefined || polled.okAt === undefined) return null;
  const why = polled.error instanceof ApiError ? `HTTP ${polled.error.status}` : 'no answer';
  // a timed-out read says so: the component may well be running, only slow to answer
  const timedOut = troubleOf(polled.error)?.kind === 'timeout';
  return (
    <p role="status" class="warn" data-testid="stale">
      The latest read {timedOut ? 'timed out' : 'failed'} ({why}): the figures below are from {clock(polled.okAt)}.{timedOut ? ' The component may well be running, only slow to answer.' : ''} The page keeps trying.
    </p>
  );
}
