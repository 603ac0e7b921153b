/**
 * Recent versions (who, why, when) with rollback for operators, and the latest audit entries.
 * Older versions page in on request, back to version 1 (the all-legacy baseline): a rollback
 * target must not fall out of reach after ten changes.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { canOperate, get, post, refusalText, type Role } from './api';
import { ConfirmDialog } from './ConfirmDialog';
import { RollbackChanges } from './RollbackChanges';
import { ago, when } from './format';
import { refusal } from './Refusal';
import { usePoll } from './usePoll';
import type { AuditEntry, Version } from './types';

const PAGE = 10;

/** `olderTop`: the newest of the older versions paged in; versions made since are read too, so the list has no gap */
async function load(olderTop: number | undefined) {
  const [versions, audit] = await Promise.all([get<{ versions: Version[] }>(`/api/versions?limit=${PAGE}`), get<{ entries: AuditEntry[] }>('/api/audit?limit=10')]);
  let list = versions.versions;
  const last = list.at(-1)?.version;
  if (olderTop !== undefined && last !== undefined && last - 1 > olderTop) {
    list = [...list, ...(await get<{ versions: Version[] }>(`/api/versions?limit=${Math.min(500, last - 1 - olderTop)}&before=${last}`)).versions];
  }
  return { versions: list, audit: audit.entries };
}

/** a rollback dialog: where to, and the version that was current when it was opened */
interface RollingBack {
  to: Version;
  base: number;
  reason: string;
}

export function ChangesPanel({ role, onPolled }: { role: Role; onPolled: (error: unknown) => void }) {
  // versions never change once made: older pages are read once
  const [older, setOlder] = useState<Version[]>([]);
  const olderRef = useRef(older);
  olderRef.current = older;
  const polled = usePoll(() => load(olderRef.current[0]?.version));
  const [rollingBack, setRollingBack] = useState<RollingBack | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [force, setForce] = useState(false);
  useEffect(() => {
    if (polled.at !== undefined) onPolled(polled.error);
  }, [polled.at]);
  const canRollBack = canOperate(role);
  const data = polled.data;
  const current = data?.versions[0]?.version;
  const newest = data?.versions ?? [];
  const shown = [...newest, ...older.filter((v) => v.version < (newest.at(-1)?.version ?? Infinity))];
  const lowest = shown.at(-1)?.version;
  const [paging, setPaging] = useState(false);
  const showOlder = async () => {
    if (lowest === undefined) return;
    setPaging(true);
    try {
      const page = (await get<{ versions: Version[] }>(`/api/versions?limit=${PAGE}&before=${lowest}`)).versions;
      // the newest shown keep their place in `older`, so a poll that moves on leaves no gap
      const kept = new Map([...older, ...newest, ...page].map((v) => [v.version, v]));
      setOlder([...kept.values()].filter((v) => v.version < (newest[0]?.version ?? Infinity)).sort((a, b) => b.version - a.version));
    } catch (e) {
      setFailed(`Cannot read older versions: ${refusalText(e)}`);
    } finally {
      setPaging(false);
    }
  };

  // the base is the version current when the dialog opened, as for a flip: a later one would
  // roll back over a change the operator never saw
  const open = (to: Version, base: number, reason = '') => {
    setForce(false);
    setFailed(null);
    setRollingBack({ to, base, reason });
  };

  const reopen = async (r: RollingBack, reason: string) => {
    try {
      const latest = (await get<{ versions: Version[] }>('/api/versions?limit=1')).versions[0];
      if (latest) {
        open(r.to, latest.version, reason);
        return;
      }
    } catch (e) {
      setFailed(`Cannot read the versions again: ${refusalText(e)}`);
    } finally {
      polled.refresh();
    }
    setRollingBack(null);
  };

  const rollback = async (reason: string) => {
    if (!rollingBack) return 'no version';
    const { to, base } = rollingBack;
    try {
      const r = await post<{ version: number; changed: boolean }>('/api/rollback', { version: to.version, reason, baseVersion: base, ...(force ? { force: true } : {}) });
      setDone(r.changed ? `Version ${r.version}: rolled back to version ${to.version}` : `Nothing to roll back: version ${to.version} has the current rules`);
      setFailed(null);
      polled.refresh();
      return null;
    } catch (e) {
      return refusal(e, role === 'admin', () => void reopen(rollingBack, reason));
    }
  };

  return (
    <section id="changes" aria-labelledby="changes-title">
      <h2 id="changes-title">Recent changes</h2>
      {done && (
        <p role="status" class="ok">
          {done}
        </p>
      )}
      {failed && (
        <p role="alert" class="error">
          {failed}
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
              {shown.map((v) => (
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
                      {current !== undefined && v.version !== current && (
                        <button type="button" onClick={() => open(v, current)} aria-label={`Roll back to version ${v.version}`}>
                          Roll back…
                        </button>
                      )}
                    </td>
                  )}
                </tr>
              ))}
            </tbody>
            {lowest !== undefined && lowest > 1 && (
              <tfoot>
                <tr>
                  <td colSpan={canRollBack ? 6 : 5}>
                    <button type="button" onClick={() => void showOlder()} disabled={paging}>
                      Older versions (before {lowest})
                    </button>
                  </td>
                </tr>
              </tfoot>
            )}
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
        <ConfirmDialog
          key={`${rollingBack.to.version}@${rollingBack.base}`}
          title={`Roll back to version ${rollingBack.to.version}`}
          confirmLabel="Roll back"
          onConfirm={rollback}
          initialReason={rollingBack.reason}
          onClose={() => setRollingBack(null)}
        >
          <p>
            The rules become those of version {rollingBack.to.version}, as a new version on top of version {rollingBack.base} (the current one when this dialog opened).
            Every gateway instance follows within a second. A rule it moves toward the new service passes its parity gate first, as a flip does; back toward legacy is never held.
          </p>
          <RollbackChanges base={rollingBack.base} to={rollingBack.to.version} />
          <p class="muted small">
            Version {rollingBack.to.version} itself was: {rollingBack.to.change.summary}
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
