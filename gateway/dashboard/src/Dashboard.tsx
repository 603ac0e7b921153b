/** The whole migration on one screen: upstreams, rules, recent changes, HL7 interfaces, CDC, what the services gave up on, and the conflicts they kept aside. */
import { useEffect, useState } from 'preact/hooks';
import { ApiError } from './api';
import { CdcPanel } from './CdcPanel';
import { ChangesPanel } from './ChangesPanel';
import { ConflictsPanel } from './ConflictsPanel';
import { clock } from './format';
import { Hl7Panel } from './Hl7Panel';
import { QueuesPanel } from './QueuesPanel';
import { RulesPanel } from './RulesPanel';
import type { WhoAmI } from './types';
import { UpstreamsPanel } from './UpstreamsPanel';

/** a poll of the admin API's own figures that has been failing since `since` */
interface Failing {
  since: number;
  /** unreachable (no answer at all), or the status it answers with */
  status: number | null;
}

/**
 * Failing polls keep the figures they last read (a blank page helps no one in an outage), so the
 * page must say they are old: a banner from the first failure until the API answers again. The
 * rules and the changes decide; the HL7, CDC and queue panels read other components through the
 * API and say so themselves.
 */
function useApiHealth(onUnauthorized: (e: ApiError) => void) {
  const [failing, setFailing] = useState<Record<string, Failing>>({});
  const polled = (source: string) => (e: unknown) => {
    // a token revoked while the page is open: back to the login page
    if (e instanceof ApiError && e.status === 401) return onUnauthorized(e);
    setFailing((f) => {
      if (e === undefined) {
        if (!(source in f)) return f;
        const rest = { ...f };
        delete rest[source];
        return rest;
      }
      const status = e instanceof ApiError ? e.status : null;
      return f[source]?.status === status ? f : { ...f, [source]: { since: f[source]?.since ?? Date.now(), status } };
    });
  };
  const all = Object.values(failing);
  const first = all.length ? all.reduce((a, b) => (a.since <= b.since ? a : b)) : null;
  return { polled, failing: first };
}

function StaleBanner({ failing }: { failing: Failing }) {
  return (
    <p role="alert" class="banner" data-testid="api-down">
      <strong>
        Admin API {failing.status === null ? 'unreachable' : `failing (HTTP ${failing.status})`} since {clock(failing.since)}
      </strong>{' '}
      — figures below may be stale. The page keeps trying every few seconds.
    </p>
  );
}

export function Dashboard({ me, onLogout, onUnauthorized }: { me: WhoAmI; onLogout: () => void; onUnauthorized: (e: ApiError) => void }) {
  useEffect(() => {
    document.title = 'Ficus migration dashboard';
    document.querySelector<HTMLElement>('h1')?.focus();
  }, []);
  const health = useApiHealth(onUnauthorized);
  return (
    <>
      <header class="top">
        <h1 tabIndex={-1}>Ficus migration dashboard</h1>
        <p class="who">
          Signed in as <strong>{me.actor}</strong> (<span data-testid="role">{me.role}</span>)
        </p>
        <button type="button" onClick={onLogout}>
          Sign out
        </button>
      </header>
      <nav aria-label="Sections">
        <ul>
          <li><a href="#upstreams">Upstreams</a></li>
          <li><a href="#rules">Rules</a></li>
          <li><a href="#changes">Recent changes</a></li>
          <li><a href="#hl7">HL7 interfaces</a></li>
          <li><a href="#cdc">Change data capture</a></li>
          <li><a href="#queues">Dead letters</a></li>
          <li><a href="#conflicts">Conflicts</a></li>
        </ul>
      </nav>
      {health.failing && <StaleBanner failing={health.failing} />}
      <main>
        <UpstreamsPanel />
        <RulesPanel role={me.role} onPolled={health.polled('rules')} />
        <ChangesPanel role={me.role} onPolled={health.polled('changes')} />
        <Hl7Panel role={me.role} />
        <CdcPanel />
        <QueuesPanel role={me.role} />
        <ConflictsPanel role={me.role} />
      </main>
    </>
  );
}
