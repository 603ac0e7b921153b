/**
 * What the new services (and the legacy writer) gave up on: the dead letters of their queues,
 * from the HL7 adapter (`hl7.*`) and the CDC deployable (`cdc.*`, `writeback.*`), with replay and
 * discard for operators. A replay past its safe time is refused with the reason; forcing it is
 * left to the CLI (`ficus queues replay --force`), a deliberate step after checking the rows.
 */
import { useState } from 'preact/hooks';
import { canOperate, confirmedWrite, get, post, troubleOf, type Role } from './api';
import { ConfirmDialog } from './ConfirmDialog';
import { ago, when } from './format';
import { StaleNote } from './StaleNote';
import { usePoll } from './usePoll';
import type { QueueDeadLetter, QueueDeadLetters } from './types';

const CHANNELS = [
  { base: '/api/hl7', name: 'the HL7 adapter' },
  { base: '/api/cdc', name: 'the CDC reader' },
] as const;

type Letter = QueueDeadLetter & { base: string };

async function load() {
  const answers = await Promise.all(
    CHANNELS.map(async (c) => {
      try {
        const r = await get<QueueDeadLetters>(`${c.base}/queues/dead-letters?limit=20`);
        return { ...c, counts: r.counts, letters: r.deadLetters.map((l) => ({ ...l, base: c.base })), running: true, slow: false };
      } catch (e) {
        const trouble = troubleOf(e);
        if (!trouble) throw e;
        // a timed-out read is not a component away: it may well be running, only slow to answer
        return { ...c, counts: [], letters: [] as Letter[], running: false, slow: trouble.kind === 'timeout' };
      }
    }),
  );
  return {
    away: answers.filter((a) => !a.running && !a.slow).map((a) => a.name),
    slow: answers.filter((a) => a.slow).map((a) => a.name),
    counts: answers.flatMap((a) => a.counts),
    letters: answers.flatMap((a) => a.letters).sort((a, b) => b.failedAt.localeCompare(a.failedAt)),
  };
}

const value = (v: unknown): string =>
  Array.isArray(v)
    ? v.map(value).join(', ')
    : typeof v === 'object' && v !== null
      ? Object.entries(v)
          .map(([k, x]) => `${k} ${value(x)}`)
          .join(', ')
      : String(v);

const summary = (s: Record<string, unknown>) =>
  Object.entries(s)
    .filter(([, v]) => v !== null && v !== undefined && v !== false)
    .map(([k, v]) => `${k} ${value(v)}`)
    .join(' · ');

const pastSafeTime = (l: QueueDeadLetter) => l.replaySafeUntil !== null && Date.parse(l.replaySafeUntil) < Date.now();

export function QueuesPanel({ role }: { role: Role }) {
  const polled = usePoll(load);
  const [acting, setActing] = useState<{ letter: Letter; what: 'replay' | 'discard' } | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const canAct = canOperate(role);
  const data = polled.data;

  const act = async (reason: string): Promise<string | null> => {
    if (!acting) return 'nothing chosen';
    const { letter, what } = acting;
    return confirmedWrite(
      () => post(`${letter.base}/queues/dead-letters/${what}`, { queue: letter.queue, id: letter.id, reason }),
      () => {
        setDone(what === 'replay' ? `${letter.id} put back on ${letter.queue}` : `${letter.id} of ${letter.queue} discarded`);
        polled.refresh();
      },
    );
  };

  return (
    <section id="queues" aria-labelledby="queues-title">
      <h2 id="queues-title">Dead letters of the new services' queues</h2>
      {done && (
        <p role="status" class="ok">
          {done}
        </p>
      )}
      {!data ? (
        <p>{polled.error ? 'The dead letters cannot be read.' : 'Loading…'}</p>
      ) : (
        <>
          <StaleNote polled={polled} />
          {data.away.length > 0 && (
            <p class="notice" data-testid="queues-away">
              Not reachable through the admin API: {data.away.join(', ')}.
            </p>
          )}
          {data.slow.length > 0 && (
            <p class="warn" data-testid="queues-timeout">
              Did not answer in time (HTTP 504), so their dead letters are not listed: {data.slow.join(', ')}. They may well be running, only slow to answer; the page keeps trying.
            </p>
          )}
          <table>
            <caption>Jobs a consumer gave up on, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Failed</th>
                <th scope="col">Queue</th>
                <th scope="col">What</th>
                <th scope="col">Why</th>
                <th scope="col">Tries</th>
                {canAct && (
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                )}
              </tr>
            </thead>
            <tbody>
              {data.letters.length === 0 && (
                <tr>
                  <td colSpan={canAct ? 6 : 5}>No dead letters{data.counts.length ? ` (${data.counts.map((c) => c.prefix).join(', ')})` : ''}.</td>
                </tr>
              )}
              {data.letters.map((l) => (
                <tr key={`${l.queue}/${l.id}`}>
                  <td title={when(l.failedAt)}>{ago(l.failedAt)}</td>
                  <th scope="row">{l.queue}</th>
                  <td>{summary(l.summary)}</td>
                  <td>
                    {l.error}
                    {pastSafeTime(l) && <span class="warn"> (past its safe replay time: a replay could bring deleted rows back)</span>}
                  </td>
                  <td>{l.attempts}</td>
                  {canAct && (
                    <td>
                      <button type="button" onClick={() => setActing({ letter: l, what: 'replay' })} aria-label={`Replay ${l.id} of ${l.queue}`}>
                        Replay…
                      </button>{' '}
                      <button type="button" onClick={() => setActing({ letter: l, what: 'discard' })} aria-label={`Discard ${l.id} of ${l.queue}`}>
                        Discard…
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {acting && (
        <ConfirmDialog
          title={`${acting.what === 'replay' ? 'Replay' : 'Discard'} ${acting.letter.id}`}
          confirmLabel={acting.what === 'replay' ? 'Replay' : 'Discard'}
          onConfirm={act}
          onClose={() => setActing(null)}
        >
          <p>
            {acting.what === 'replay'
              ? `The job goes back to the end of ${acting.letter.queue}; the service applies what is still new in it and skips what it already has.`
              : `The dead letter is removed; what it held stays only in the audit log's summary. Do this when it was settled otherwise.`}
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
