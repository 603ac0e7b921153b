/** The whole migration on one screen: rules, recent changes, HL7 interfaces, CDC, and what the services gave up on. */
import { useEffect } from 'preact/hooks';
import { ApiError } from './api';
import { CdcPanel } from './CdcPanel';
import { ChangesPanel } from './ChangesPanel';
import { Hl7Panel } from './Hl7Panel';
import { QueuesPanel } from './QueuesPanel';
import { RulesPanel } from './RulesPanel';
import type { WhoAmI } from './types';


export function Dashboard({ me, onLogout, onUnauthorized }: { me: WhoAmI; onLogout: () => void; onUnauthorized: () => void }) {
  useEffect(() => {
    document.title = 'Ficus migration dashboard';
    document.querySelector<HTMLElement>('h1')?.focus();
  }, []);
  // a token revoked while the page is open: back to the login page
  const guard = (e: unknown) => {
    if (e instanceof ApiError && e.status === 401) onUnauthorized();
  };
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
          <li><a href="#rules">Rules</a></li>
          <li><a href="#changes">Recent changes</a></li>
          <li><a href="#hl7">HL7 interfaces</a></li>
          <li><a href="#cdc">Change data capture</a></li>
          <li><a href="#queues">Dead letters</a></li>
        </ul>
      </nav>
      <main>
        <RulesPanel role={me.role} onError={guard} />
        <ChangesPanel role={me.role} onError={guard} />
        <Hl7Panel role={me.role} />
        <CdcPanel />
        <QueuesPanel role={me.role} />
      </main>
    </>
  );
}
