/** Every rule: mode, target, percent, live traffic split and error rates, parity and its gate; flip for operators. */
import { useEffect, useState } from 'preact/hooks';
import { AdapterEmergency, useAdapterEmergency } from './AdapterEmergency';
import { canOperate, get, refusalText, type Role } from './api';
import { EmergencyNotice } from './EmergencyNotice';
import { describeMode, FlipDialog, type Flipped, type Flipping } from './FlipDialog';
import { pct, ratio } from './format';
import { holdAfter, holdInRow, holdOf, type Hold } from './holds';
import { usePoll } from './usePoll';
import type { Parity, Rule, RulesAnswer, Traffic } from './types';

interface Row {
  rule: Rule;
  kind: 'http' | 'hl7';
  parity: Parity | undefined;
  traffic: Traffic | undefined;
}

async function load() {
  const [rules, parity, traffic] = await Promise.all([get<RulesAnswer>('/api/rules'), get<{ rules: Parity[] }>('/api/parity'), get<{ rules: Traffic[] }>('/api/traffic?window=5m')]);
  const p = new Map(parity.rules.map((x) => [x.rule, x]));
  const t = new Map(traffic.rules.map((x) => [x.rule, x]));
  const rows: Row[] = [
    ...rules.rules.map((rule) => ({ rule, kind: 'http' as const, parity: p.get(rule.id), traffic: t.get(rule.id) })),
    ...rules.hl7.map((rule) => ({ rule, kind: 'hl7' as const, parity: p.get(rule.id), traffic: undefined })),
  ];
  return { version: rules.version, rows, emergency: rules.emergency };
}

function Split({ t }: { t: Traffic | undefined }) {
  if (!t) return <span class="muted">no requests in 5 min</span>;
  const total = t.targets.reduce((n, x) => n + x.requests, 0);
  return (
    <ul class="plain">
      {t.targets.map((x) => (
        <li key={x.target}>
          {x.target}: {pct(ratio(x.requests, total), 0)} <span class="muted">({x.requests})</span>
        </li>
      ))}
      {t.fallbacks > 0 && <li class="warn">{t.fallbacks} fallbacks</li>}
    </ul>
  );
}

function Errors({ t }: { t: Traffic | undefined }) {
  if (!t) return <span class="muted">–</span>;
  const total = t.targets.reduce((n, x) => n + x.requests, 0);
  const e5 = t.targets.reduce((n, x) => n + x.errors5xx, 0);
  const e4 = t.targets.reduce((n, x) => n + x.errors4xx, 0);
  return (
    <span class={e5 > 0 ? 'warn' : ''}>
      5xx {pct(ratio(e5, total))} · 4xx {pct(ratio(e4, total))}
    </span>
  );
}

interface Sample {
  id: number;
  at: string;
  method?: string;
  legacyStatus?: number;
  targetStatus?: number;
  text: string;
  redacted: boolean;
}

/** The latest kept mismatches of a rule, read when opened: paths and value types, a readable diff. */
function Samples({ rule }: { rule: string }) {
  const [samples, setSamples] = useState<Sample[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const toggle = (e: Event) => {
    if (!(e.target as HTMLDetailsElement).open) return;
    get<{ samples: Sample[] }>(`/api/parity/${encodeURIComponent(rule)}?samples=5`).then(
      (r) => setSamples(r.samples),
      (err: unknown) => setError((err as Error).message),
    );
  };
  return (
    <details onToggle={toggle}>
      <summary>Mismatch samples</summary>
      {error && <p class="error">{error}</p>}
      {samples?.length === 0 && <p class="muted small">none kept</p>}
      {samples?.map((x) => (
        <div key={x.id} class="sample">
          <div class="muted small">
            {x.method} · legacy {x.legacyStatus ?? '–'} / new {x.targetStatus ?? '–'}
            {x.redacted ? ' · values redacted' : ''}
          </div>
          <pre>{x.text}</pre>
        </div>
      ))}
    </details>
  );
}

function ParityCell({ p }: { p: Parity | undefined }) {
  if (!p) return <span class="muted">not compared</span>;
  const gate = p.gate;
  return (
    <div>
      <strong>{pct(p.parity, 2)}</strong>{' '}
      <span class="muted">
        ({p.compared - p.mismatches}/{p.compared} in {p.window})
      </span>
      <div class="small">
        by key: <strong>{pct(p.keyParity, 2)}</strong>{' '}
        <span class="muted">
          ({p.keys - p.mismatchedKeys}/{p.keys} keys)
        </span>
      </div>
      {p.topFields[0] && <div class="muted small">most differing: {p.topFields.map((f) => `${f.field} (${f.count})`).slice(0, 3).join(', ')}</div>}
      {gate && (
        <div class={`gate ${gate.open ? 'open' : 'closed'}`}>
          gate {gate.open ? 'open' : 'closed'}: needs {pct(gate.threshold, 2)} over {gate.minCompared} requests and {gate.minKeys} keys
        </div>
      )}
      {p.mismatches > 0 && <Samples rule={p.rule} />}
    </div>
  );
}

/** The mode the store has, and, when an emergency override file holds the rule, that it serves legacy (and whose file). */
function ModeCell({ row, e, hold }: { row: Row; e: RulesAnswer['emergency']; hold: Hold | null }) {
  return (
    <td data-testid="mode">
      {describeMode(row.rule)}
      {hold && (
        <>
          {' '}
          <span class="badge warn" data-testid={hold.component === 'gateway' ? 'emergency' : 'emergency-adapter'}>
            {hold.component === 'gateway' ? 'legacy (emergency)' : 'legacy (emergency, HL7 adapter)'}
          </span>
        </>
      )}
      {/* held by the adapter, maybe by this very file (one file for both in the demo): the badge above says it */}
      {row.kind === 'hl7' && !hold && e?.hl7?.includes(row.rule.id) && (
        <>
          {' '}
          <span class="badge muted" data-testid="emergency-hl7-rule" title="named in the gateway's emergency file; the gateway routes no HL7 messages: the HL7 adapter holds an HL7 rule only if its own emergency file names it">
            not held by the gateway
          </span>
        </>
      )}
      {/* said, not in a tooltip: the store's mode alone reads as if it served */}
      {hold && row.rule.mode !== 'legacy' && (
        <div class="small warn" data-testid="held">
          {holdInRow(hold)}
        </div>
      )}
    </td>
  );
}

export function RulesPanel({ role, onPolled }: { role: Role; onPolled: (error: unknown) => void }) {
  const polled = usePoll(load);
  const adapter = useAdapterEmergency();
  const [flipping, setFlipping] = useState<Flipping | null>(null);
  const [done, setDone] = useState<{ text: string; held: string | null } | null>(null);
  const [failed, setFailed] = useState<string | null>(null);
  const [warnings, setWarnings] = useState<string[]>([]);
  useEffect(() => {
    if (polled.at !== undefined) onPolled(polled.error);
  }, [polled.at]);
  const canFlip = canOperate(role);
  const data = polled.data;
  // the adapter's answer while its reads succeed: an old "not held" must not hide a hold
  const adapterNow = adapter.error === undefined ? adapter.data : undefined;
  const holdOfRow = (row: Pick<Row, 'kind' | 'rule'>): Hold | null => holdOf(row.kind, row.rule.id, data?.emergency, adapterNow);

  // The version is taken now, not at submit: the poll moves on while the dialog is open, and a
  // flip sent on a newer version than the operator saw would replace another operator's change
  // unseen instead of getting the 409 that says so.
  const open = (row: Row, version: number, reason = '') => {
    setFailed(null);
    setFlipping({ row, version, reason });
  };

  const reopen = async (f: Flipping, reason: string) => {
    try {
      const fresh = await load();
      const row = fresh.rows.find((r) => r.kind === f.row.kind && r.rule.id === f.row.rule.id);
      if (row) {
        open(row, fresh.version, reason);
        return;
      }
      setFailed(`Rule ${f.row.rule.id} is no longer in the rules (version ${fresh.version}).`);
    } catch (e) {
      setFailed(`Cannot read the rules again: ${refusalText(e)}`);
    } finally {
      polled.refresh();
    }
    setFlipping(null);
  };

  const flipped = (f: Flipping, r: Flipped, mode: string) => {
    const { rule } = f.row;
    // a held rule flipped away from legacy: the store took it, the component does not serve it
    const hold = r.change && mode !== 'legacy' ? holdOfRow(f.row) : null;
    setDone({ text: r.change ? `Version ${r.version}: ${r.change.summary}` : `No change: ${rule.id} is already ${describeMode(rule)} (version ${r.version} stays)`, held: hold && holdAfter(rule.id, hold) });
    setFailed(null);
    setWarnings((r.warnings ?? []).map((w) => w.reason));
    polled.refresh();
  };

  return (
    <section id="rules" aria-labelledby="rules-title">
      <h2 id="rules-title">Rules {data && <span class="muted">(version {data.version})</span>}</h2>
      {done && (
        <p role="status" class={done.held ? 'warn' : 'ok'} data-testid="flip-done">
          {done.text}
          {done.held && (
            <>
              {' '}
              <strong>⚠ {done.held}</strong>
            </>
          )}
        </p>
      )}
      {failed && (
        <p role="alert" class="error">
          {failed}
        </p>
      )}
      {warnings.map((w) => (
        <p key={w} role="alert" class="warn">
          Warning: {w}
        </p>
      ))}
      {data?.emergency && <EmergencyNotice e={data.emergency} adapter={adapterNow} />}
      <AdapterEmergency polled={adapter} hl7Rules={data?.rows.filter((r) => r.kind === 'hl7').length ?? 0} />
      {!data ? (
        <p>{polled.error ? `Cannot read the rules: ${(polled.error as Error).message}` : 'Loading…'}</p>
      ) : (
        <table>
          <caption>Routing rules in the order they are tried; traffic and errors over the last 5 minutes, from every gateway instance</caption>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">Mode</th>
              <th scope="col">Target</th>
              <th scope="col">Traffic split</th>
              <th scope="col">Errors</th>
              <th scope="col">Parity</th>
              {canFlip && <th scope="col"><span class="sr-only">Actions</span></th>}
            </tr>
          </thead>
          <tbody>
            {data.rows.map((row) => (
              <tr key={`${row.kind}:${row.rule.id}`} data-rule={row.rule.id}>
                <th scope="row">
                  {row.rule.id} {row.kind === 'hl7' && <span class="badge">HL7</span>}
                </th>
                <ModeCell row={row} e={data.emergency} hold={holdOfRow(row)} />
                <td>{row.rule.target ?? '–'}</td>
                <td>{row.kind === 'http' ? <Split t={row.traffic} /> : <span class="muted">see HL7</span>}</td>
                <td>{row.kind === 'http' ? <Errors t={row.traffic} /> : '–'}</td>
                <td>
                  <ParityCell p={row.parity} />
                </td>
                {canFlip && (
                  <td>
                    <button type="button" onClick={() => open(row, data.version)} aria-label={`Flip ${row.rule.id}`}>
                      Flip…
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {flipping && (
        <FlipDialog
          key={`${flipping.row.kind}:${flipping.row.rule.id}@${flipping.version}`}
          flipping={flipping}
          role={role}
          hold={holdOfRow(flipping.row)}
          onFlipped={(r, mode) => flipped(flipping, r, mode)}
          onReopen={(reason) => void reopen(flipping, reason)}
          onClose={() => setFlipping(null)}
        />
      )}
    </section>
  );
}
