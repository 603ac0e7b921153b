/** HL7 interfaces: messages per type, ACK codes, deliveries and dead letters, with replay for operators. */
import { useState } from 'preact/hooks';
import { canOperate, confirmedWrite, get, notRunning, post, unreadText, type Role } from './api';
import { ConfirmDialog } from './ConfirmDialog';
import { ago, when } from './format';
import { StaleNote } from './StaleNote';
import { usePoll } from './usePoll';
import type { DeadLetter, Hl7Stats } from './types';

async function load() {
  const since = new Date(Date.now() - 3600_000).toISOString();
  const [stats, dead] = await Promise.all([get<Hl7Stats>(`/api/hl7/stats?since=${encodeURIComponent(since)}`), get<{ deadLetters: DeadLetter[] }>('/api/hl7/dead-letters?limit=20')]);
  return { stats, dead: dead.deadLetters };
}

export function Hl7Panel({ role }: { role: Role }) {
  const polled = usePoll(load);
  const [replaying, setReplaying] = useState<DeadLetter | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const canReplay = canOperate(role);
  const data = polled.data;
  // a 404/503 means no adapter behind the admin API: said instead of its figures; a timeout keeps them, said stale
  const down = polled.error !== undefined && notRunning(polled.error);

  const replay = async (reason: string): Promise<string | null> => {
    if (!replaying) return 'nothing to replay';
    return confirmedWrite(
      () => post('/api/hl7/replay', { messageId: replaying.messageId, reason }),
      () => {
        setDone(`Message ${replaying.controlId} (${replaying.type}^${replaying.trigger}) queued again for ${replaying.target}`);
        polled.refresh();
      },
    );
  };

  return (
    <section id="hl7" aria-labelledby="hl7-title">
      <h2 id="hl7-title">HL7 interfaces</h2>
      {done && (
        <p role="status" class="ok">
          {done}
        </p>
      )}
      {down || (!data && polled.error) ? (
        <p class="notice" data-testid="hl7-down">
          {unreadText('The HL7 adapter', polled.error)}
        </p>
      ) : !data ? (
        <p>Loading…</p>
      ) : (
        <>
          <StaleNote polled={polled} />
          <div class="three">
            <table>
              <caption>Messages in the last hour</caption>
              <thead>
                <tr>
                  <th scope="col">Type</th>
                  <th scope="col">Count</th>
                </tr>
              </thead>
              <tbody>
                {data.stats.messages.map((m) => (
                  <tr key={`${m.type}^${m.trigger}`}>
                    <th scope="row">
                      {m.type}^{m.trigger}
                    </th>
                    <td>{m.count}</td>
                  </tr>
                ))}
                <tr>
                  <th scope="row">rejected (AR/CR)</th>
                  <td>{data.stats.rejected}</td>
                </tr>
              </tbody>
            </table>
            <table>
              <caption>ACK codes sent</caption>
              <thead>
                <tr>
                  <th scope="col">Code</th>
                  <th scope="col">Count</th>
                </tr>
              </thead>
              <tbody>
                {data.stats.acks.map((a) => (
                  <tr key={a.code}>
                    <th scope="row">{a.code}</th>
                    <td>{a.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <table>
              <caption>Deliveries per target (to a service's queue, delivered: the queue took it; gave up: its service then refused it)</caption>
              <thead>
                <tr>
                  <th scope="col">Target</th>
                  <th scope="col">Delivered</th>
                  <th scope="col">Pending</th>
                  <th scope="col">Dead</th>
                  <th scope="col">Service gave up</th>
                </tr>
              </thead>
              <tbody>
                {data.stats.deliveries.map((d) => (
                  <tr key={d.target}>
                    <th scope="row">{d.target}</th>
                    <td>{d.delivered}</td>
                    <td>{d.pending}</td>
                    <td class={d.dead > 0 ? 'warn' : ''}>{d.dead}</td>
                    {/* null: legacy, or the services' dead letters could not be read */}
                    <td class={d.gaveUp ? 'warn' : ''}>{d.gaveUp ?? '–'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <table>
            <caption>Dead letters (refused by the receiving system), newest first</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Message</th>
                <th scope="col">From</th>
                <th scope="col">Target</th>
                <th scope="col">Answer</th>
                <th scope="col">Attempts</th>
                {canReplay && <th scope="col"><span class="sr-only">Actions</span></th>}
              </tr>
            </thead>
            <tbody>
              {data.dead.length === 0 && (
                <tr>
                  <td colSpan={canReplay ? 7 : 6}>No dead letters.</td>
                </tr>
              )}
              {data.dead.map((d) => (
                <tr key={d.deliveryId}>
                  <td title={when(d.at)}>{ago(d.at)}</td>
                  <th scope="row">
                    {d.type}^{d.trigger} {d.controlId}
                  </th>
                  <td>{d.sendingFacility}</td>
                  <td>{d.target}</td>
                  <td>{d.answer ?? '–'}</td>
                  <td>{d.attempts}</td>
                  {canReplay && (
                    <td>
                      <button type="button" onClick={() => setReplaying(d)} aria-label={`Replay message ${d.controlId}`}>
                        Replay…
                      </button>
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
      {replaying && (
        <ConfirmDialog title={`Replay message ${replaying.controlId}`} confirmLabel="Replay" onConfirm={replay} onClose={() => setReplaying(null)}>
          <p>
            The message ({replaying.type}^{replaying.trigger} from {replaying.sendingFacility}) is delivered again to {replaying.target}. The receiving system recognises a message it already applied.
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
