/**
 * This gateway instance's upstreams: health from its active checks, circuit state since when, the
 * last health-check error, the rules pointing at each, and a warning above them for every rule an
 * open (or half-open) circuit or failing checks affect. Each gateway instance has its own checks
 * and breakers: the panel says which instance answered.
 */
import { ApiError, get, refusalText } from './api';
import { clock, since } from './format';
import { allWarnings, circuitTone, healthLabel, ruleLabel, sendsNothing, type UpstreamState, type UpstreamsAnswer } from './upstreams';
import { usePoll } from './usePoll';

function Rules({ u }: { u: UpstreamState }) {
  const targeting = u.rules.filter((r) => r.role === 'target');
  const asLegacy = u.rules.filter((r) => r.role === 'legacy');
  if (u.rules.length === 0) return <span class="muted">no rule</span>;
  return (
    <>
      {targeting.length > 0 && (
        <ul class="plain">
          {targeting.map((r) => (
            <li key={r.id} class={r.emergency ? 'warn' : r.sends ? '' : 'muted'} data-testid={r.emergency ? 'held' : undefined}>
              {ruleLabel(r)}
              {r.sends ? '' : sendsNothing(r)}
            </li>
          ))}
        </ul>
      )}
      {asLegacy.length > 0 && (
        <details>
          <summary>
            legacy side of {asLegacy.length} rule{asLegacy.length === 1 ? '' : 's'}
          </summary>
          <ul class="plain small">
            {asLegacy.map((r) => (
              <li key={r.id}>{ruleLabel(r)}</li>
            ))}
          </ul>
        </details>
      )}
    </>
  );
}

/** The emergency file this instance serves under: the rules it holds send nothing to their targets, whatever the rule store says. */
function Held({ e }: { e: NonNullable<UpstreamsAnswer['emergency']> }) {
  return (
    <p class="alerts" data-testid="upstreams-emergency">
      <strong>⚠ Emergency override file {e.file}</strong> on this instance since {since(e.since)}
      {e.by ? ` by ${e.by}` : ''}
      {e.reason ? `: ${e.reason}` : ''}.{' '}
      {e.pinned.length > 0
        ? `Held in legacy: ${e.pinned.join(', ')}. Their targets get none of their requests, whatever mode the rule store gives them, until the file is removed.`
        : 'It holds none of the rules this instance serves.'}
    </p>
  );
}

function Row({ u }: { u: UpstreamState }) {
  const health = healthLabel(u);
  return (
    <tr data-upstream={u.name}>
      <th scope="row">
        {u.name}
        <div class="small muted" data-testid="url">
          {u.url}
        </div>
      </th>
      <td data-testid="health" class={health.tone}>
        {health.text}
      </td>
      <td data-testid="circuit">
        <span class={circuitTone(u.circuit.state)}>{u.circuit.state}</span> <span title={new Date(u.circuit.since).toLocaleString()}>since {since(u.circuit.since)}</span>
        {u.circuit.reason && <div class="small muted">{u.circuit.reason}</div>}
      </td>
      <td class="small">{u.lastError ?? <span class="muted">–</span>}</td>
      <td>
        <Rules u={u} />
      </td>
    </tr>
  );
}

export function UpstreamsPanel() {
  const polled = usePoll(() => get<UpstreamsAnswer>('/api/upstreams'));
  const data = polled.data;
  const warnings = data ? allWarnings(data) : [];
  return (
    <section id="upstreams" aria-labelledby="upstreams-title">
      <h2 id="upstreams-title">Upstreams</h2>
      {!data ? (
        polled.error ? (
          <p class="notice" data-testid="upstreams-down">
            {polled.error instanceof ApiError && polled.error.status === 404 ? 'This admin API does not report its upstreams.' : `The upstreams could not be read: ${refusalText(polled.error)}`}
          </p>
        ) : (
          <p>Loading…</p>
        )
      ) : (
        <>
          <p class="muted small" data-testid="upstreams-instance">
            As seen by gateway instance <strong>{data.instance.hostname}</strong> (pid {data.instance.pid}), serving rules{' '}
            {data.rules.version !== null ? `version ${data.rules.version}` : `from ${data.rules.source}`}
            {data.rules.state === 'degraded' ? ' (degraded: its last good rules)' : ''}, read at {clock(Date.parse(data.at))}
            {polled.error !== undefined ? ' (the latest read failed)' : ''}. Each instance checks its upstreams on its own: another may see them otherwise.
          </p>
          {data.emergency && <Held e={data.emergency} />}
          {/* polite: announced when it changes, not every 2 s */}
          <div aria-live="polite">
            {warnings.length > 0 && (
              <ul class="plain alerts" data-testid="upstream-warnings" aria-label="Rules affected by an upstream's circuit">
                {warnings.map((w) => (
                  <li key={`${w.upstream}/${w.rule}`} class={w.state === 'open' ? 'error' : 'warn'}>
                    <strong>⚠ {w.text}</strong> <span class="muted">(since {since(w.since)})</span>
                  </li>
                ))}
              </ul>
            )}
          </div>
          <table>
            <caption>Health checks and circuit breakers of this instance, and the rules pointing at each upstream</caption>
            <thead>
              <tr>
                <th scope="col">Upstream</th>
                <th scope="col">Health</th>
                <th scope="col">Circuit</th>
                <th scope="col">Last health-check error</th>
                <th scope="col">Rules</th>
              </tr>
            </thead>
            <tbody>
              {data.upstreams.map((u) => (
                <Row key={u.name} u={u} />
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
