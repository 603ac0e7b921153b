/**
 * The CDC changes the new services did not apply (the conflict rule: a legacy change older than
 * the service's own), waiting for a person: how many per service and topic and since when, the
 * newest of them without field values (PHI: `ficus conflicts show` gives one change whole), and
 * a resolve for operators with a reason. The same admin API routes as `ficus conflicts`; a
 * service that does not answer is said as such, never counted as 0.
 */
import { useState } from 'preact/hooks';
import { ApiError, canOperate, confirmedWrite, get, post, type Role } from './api';
import { ConfirmDialog } from './ConfirmDialog';
import { ago, when } from './format';
import { CONFLICT_SERVICES, conflictsUnreadText, keyText, type ConflictService } from './service-conflicts.js';
import { StaleNote } from './StaleNote';
import { usePoll } from './usePoll';
import type { ServiceConflict, ServiceConflicts } from './types';

/** how many of each service's newest the list shows; the CLI pages through the rest */
const LIMIT = 20;

type Read = { service: ConflictService; answer: ServiceConflicts } | { service: ConflictService; unread: string };

async function load(): Promise<Read[]> {
  return Promise.all(
    CONFLICT_SERVICES.map(async (service): Promise<Read> => {
      try {
        return { service, answer: await get<ServiceConflicts>(`/api/services/${service}/conflicts?limit=${LIMIT}`) };
      } catch (e) {
        return { service, unread: e instanceof ApiError ? conflictsUnreadText(service, e.status, e.problem) : conflictsUnreadText(service, null) };
      }
    }),
  );
}

export function ConflictsPanel({ role }: { role: Role }) {
  const polled = usePoll(load);
  const [resolving, setResolving] = useState<ServiceConflict | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const canAct = canOperate(role);
  const reads = polled.data;
  const answers = reads?.flatMap((r) => ('answer' in r ? [r.answer] : [])) ?? [];
  const unread = reads?.flatMap((r) => ('unread' in r ? [r] : [])) ?? [];
  const conflicts = answers.flatMap((a) => a.conflicts).sort((a, b) => b.recordedAt.localeCompare(a.recordedAt));

  const resolve = async (reason: string): Promise<string | null> => {
    if (!resolving) return 'nothing chosen';
    const c = resolving;
    return confirmedWrite(
      () => post(`/api/services/${c.service}/conflicts/${c.id}/resolve`, { reason }),
      () => {
        setDone(`${c.service} conflict ${c.id} (${c.topic} ${keyText(c.key)}) resolved`);
        polled.refresh();
      },
    );
  };

  return (
    <section id="conflicts" aria-labelledby="conflicts-title">
      <h2 id="conflicts-title">Conflicts waiting for review</h2>
      {done && (
        <p role="status" class="ok">
          {done}
        </p>
      )}
      {!reads ? (
        <p>{polled.error ? 'The conflicts cannot be read.' : 'Loading…'}</p>
      ) : (
        <>
          <StaleNote polled={polled} />
          <table>
            <caption>Legacy changes a new service kept aside (not applied) and nobody resolved yet, per service and topic</caption>
            <thead>
              <tr>
                <th scope="col">Service</th>
                <th scope="col">Topic</th>
                <th scope="col">Unresolved</th>
                <th scope="col">Oldest</th>
              </tr>
            </thead>
            <tbody>
              {reads.map((r) =>
                'unread' in r ? (
                  <tr key={r.service} data-testid={`conflicts-unavailable-${r.service}`}>
                    <th scope="row">{r.service}</th>
                    <td colSpan={3} class="warn">
                      unavailable — {r.unread}
                    </td>
                  </tr>
                ) : r.answer.unresolved.length === 0 ? (
                  <tr key={r.service}>
                    <th scope="row">{r.service}</th>
                    <td>–</td>
                    <td>0</td>
                    <td>–</td>
                  </tr>
                ) : (
                  r.answer.unresolved.map((u) => (
                    <tr key={`${r.service}/${u.topic}`}>
                      <th scope="row">{r.service}</th>
                      <td>{u.topic}</td>
                      <td>{u.count}</td>
                      <td title={when(u.oldest)}>{ago(u.oldest)}</td>
                    </tr>
                  ))
                ),
              )}
            </tbody>
          </table>
          <table>
            <caption>
              The newest unresolved, without field values (<code>ficus conflicts show &lt;service&gt; &lt;id&gt;</code> gives the change itself)
            </caption>
            <thead>
              <tr>
                <th scope="col">Recorded</th>
                <th scope="col">Service</th>
                <th scope="col">Id</th>
                <th scope="col">Topic</th>
                <th scope="col">Key</th>
                <th scope="col">Op</th>
                <th scope="col">Why it was not applied</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {conflicts.length === 0 && (
                <tr>
                  <td colSpan={8}>{unread.length > 0 ? 'No unresolved conflicts in the services that answered.' : 'No unresolved conflicts.'}</td>
                </tr>
              )}
              {conflicts.map((c) => (
                <tr key={`${c.service}/${c.id}`} data-conflict={`${c.service}/${c.id}`}>
                  <td title={when(c.recordedAt)}>{ago(c.recordedAt)}</td>
                  <td>{c.service}</td>
                  <th scope="row">{c.id}</th>
                  <td>{c.topic}</td>
                  <td>{keyText(c.key)}</td>
                  <td>{c.op}</td>
                  <td>{c.reason}</td>
                  <td>
                    {/* shown to viewers too, disabled: they see that resolving exists and who may do it */}
                    <button
                      type="button"
                      disabled={!canAct}
                      title={canAct ? undefined : 'Operators resolve conflicts; your role is viewer'}
                      onClick={() => setResolving(c)}
                      aria-label={`Resolve conflict ${c.id} of ${c.service}`}
                    >
                      Resolve…
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {answers
            .filter((a) => a.nextCursor)
            .map((a) => (
              <p key={a.service} class="help">
                More of {a.service}'s: <code>ficus conflicts list --service {a.service}</code>
              </p>
            ))}
        </>
      )}
      {resolving && (
        <ConfirmDialog title={`Resolve conflict ${resolving.id} of ${resolving.service}`} confirmLabel="Resolve" onConfirm={resolve} onClose={() => setResolving(null)}>
          <p>
            The legacy change to {resolving.topic} {keyText(resolving.key)} stays not applied; the conflict leaves this list, and who resolved it and why stay with it
            and in the audit log. Do this once the record is right in {resolving.service} (see the change with{' '}
            <code>
              ficus conflicts show {resolving.service} {resolving.id}
            </code>
            ).
          </p>
        </ConfirmDialog>
      )}
    </section>
  );
}
