/** Change data capture from the legacy database: state and lag per source, and what holds the write-back. */
import { get, notRunning, unreadText } from './api';
import { when } from './format';
import { StaleNote } from './StaleNote';
import { usePoll } from './usePoll';
import type { CdcSource } from './types';
import { writebackHolds, type WritebackAnswer } from './writeback-holds';

function lag(s: CdcSource) {
  const parts = [s.lagMs !== null ? `${(s.lagMs / 1000).toFixed(1)} s` : null, s.lagBytes !== null ? `${s.lagBytes.toLocaleString()} bytes` : null].filter(Boolean);
  return parts.length ? parts.join(' · ') : '–';
}

export function CdcPanel() {
  const polled = usePoll(() => get<{ sources: CdcSource[]; enqueue?: { waitingSince: string; reason: string } | null; writeback?: WritebackAnswer }>('/api/cdc/status'));
  const data = polled.data;
  const holds = writebackHolds(data?.writeback);
  const down = polled.error !== undefined && notRunning(polled.error);
  return (
    <section id="cdc" aria-labelledby="cdc-title">
      <h2 id="cdc-title">Change data capture</h2>
      {down || (!data && polled.error) ? (
        <p class="notice" data-testid="cdc-down">
          {unreadText('The CDC reader', polled.error)}
        </p>
      ) : !data ? (
        <p>Loading…</p>
      ) : (
        <>
          <StaleNote polled={polled} />
          {data.enqueue && (
            // the source streams on into memory: its state alone would look fine while no service gets a change
            <p role="alert" class="warn" data-testid="cdc-enqueue">
              Change events wait for Redis since {when(data.enqueue.waitingSince)} ({data.enqueue.reason}): no service gets a change meanwhile, and the CDC reader answers not ready.
            </p>
          )}
          {holds.length > 0 && (
            // as `ficus cdc status` says them: else a held write-back showed only in the CDC's log
            <ul class="plain" data-testid="writeback-holds" aria-label="What holds the write-back to the legacy database">
              {holds.map((h, i) => (
                <li key={i} class="warn" data-kind={h.kind}>
                  {h.text}
                </li>
              ))}
            </ul>
          )}
          <table>
            <caption>Sources and their lag behind the legacy database</caption>
            <thead>
              <tr>
                <th scope="col">Source</th>
                <th scope="col">Kind</th>
                <th scope="col">State</th>
                <th scope="col">Lag</th>
                <th scope="col">Changes/s</th>
                <th scope="col">Last commit</th>
              </tr>
            </thead>
            <tbody>
              {data.sources.map((s) => (
                <tr key={s.name}>
                  <th scope="row">{s.name}</th>
                  <td>{s.kind}</td>
                  <td class={s.state === 'error' || s.state === 'stopped' ? 'warn' : ''}>
                    {s.state}
                    {s.error ? `: ${s.error}` : ''}
                  </td>
                  <td>{lag(s)}</td>
                  <td>{s.changesPerSecond.toFixed(1)}</td>
                  <td>{when(s.lastCommitAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
