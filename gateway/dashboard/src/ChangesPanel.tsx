/** Recent versions (who, why, when) with rollback for operators, and the latest audit entries. */
import { useEffect, useState } from 'preact/hooks';
import { canOperate, confirmedWrite, get, post, type Role } from './api';
import { ConfirmDialog } from './ConfirmDialog';
import { ago, when } from './format';
import { usePoll } from './usePoll';
import type { AuditEntry, Version } from './types';

async function load() {
  const [versions, audit] = await Promise.all([get<{ versions: Version[] }>('/api/versions?limit=10'), get<{ entries: AuditEntry[] }>('/api/audit?limit=10')]);
  return { versions: versions.versions, audit: audit.entries };
}

export function ChangesPanel({ role, onError }: { role: Role; onError: (e: unknown) => void }) {
  const polled = usePoll(load);
  const [rollingBack, setRollingBack] = useState<Version | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [force, setForce] = useState(false);
  useEffect(() => {
    if (polled.error) onError(polled.error);
  }, [polled.error]);
  const canRollBack = canOperate(role);
  const data = polled.data;
  const current = data?.versions[0]?.version;

  const rollback = async (reason: string): Promise<string | null> => {
    if (!rollingBack || current === undefined) return 'no version';
    return confirmedWrite(
      () => post<{ version: number; changed: boolean }>('/api/rollback', { version: rollingBack.version, reason, baseVersion: current, ...(force ? { force: true } : {}) }),
      (r) => {
        setDone(r.changed ? `Version ${r.version}: rolled back to version ${rollingBack.version}` : `Nothing to roll back: version ${rollingBack.version} has the current rules`);
        polled.refresh();
      },
    );
  };

  return (
    <section id="changes" aria-labelledby="changes-title">
      <h2 id="changes-title">Recent changes</h2>
      {done && (
        <p role="status" class="ok">
          {done}
        </p>
      )}
      {!data ? (
        <p>Loading…</p>
      ) : (
        <div class="two">
          <table>
            <caption>Rule set versions, newest first</caption>
            <thead>
              <tr>
                <th scope="col">Version</th>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">What</th>
                <th scope="col">Why</th>
                {canRollBack && <th scope="col"><span class="sr-only">Actions</span></th>}
              </tr>
            </thead>
            <tbody>
              {data.versions.map((v) => (
                <tr key={v.version}>
                  <th scope="row">{v.version}</th>
                  <td title={when(v.createdAt)}>{ago(v.createdAt)}</td>
                  <td>{v.author}</td>
                  <td>
                    {v.change.summary} {v.change.forced && <span class="badge warn">forced</span>}
                  </td>
                  <td>{v.reason}</td>
                  {canRollBack && (
                    <td>
                      {v.version !== current && (
                        <button type="button" onClick={() => { setForce(false); setRollingBack(v); }} aria-label={`Roll back to version ${v.version}`}>
                          Roll back…
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
          </table>
          <table>
            <caption>Audit log, newest first (refused and denied attempts included)</caption>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Outcome</th>
                <th scope="col">Why</th>
              </tr>
            </thead>
            <tbody>
              {data.audit.map((a) => (
                <tr key={a.id}>
                  <td title={when(a.at)}>{ago(a.at)}</td>
                  <td>{a.actor}</td>
                  <td>
                    {a.action} {a.target ?? ''}
                  </td>
                  <td class={a.outcome === 'ok' ? '' : 'warn'}>{a.outcome}</td>
                  <td>{a.reason ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {rollingBack && (
        <ConfirmDialog title={`Roll back to version ${rollingBack.version}`} confirmLabel="Roll back" onConfirm={rollback} onClose={() => setRollingBack(null)}>
          <p>
            The rules become those of version {rollingBack.version} ({rollingBack.change.summary}), as a new version. Every gateway instance follows within a second. A rule it
            moves toward the new service passes its parity gate first, as a flip does; back toward legacy is never held.
          </p>
          {role === 'admin' && (
            <div class="check">
              <input id="rollback-force" type="checkbox" checked={force} onChange={(e) => setForce((e.target as HTMLInputElement).checked)} />
              <label for="rollback-force">Force past a closed parity gate (audited as forced)</label>
            </div>
          )}
        </ConfirmDialog>
      )}
    </section>
  );
}
