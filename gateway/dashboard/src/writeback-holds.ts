/**
 * What holds the CDC deployable's legacy writer back, as `ficus cdc status` says it: write-back
 * jobs waiting for the legacy database, partitions held by updates whose legacy row is gone or
 * by rows a legacy foreign key refuses until their parent row is there, and the emergency override file while it gives the legacy a service's record (its legacy edits
 * stay). Before, the CDC panel listed the sources alone: a write-back held for minutes (a row
 * renamed in the legacy, the legacy database down) showed nowhere an operator looks but the log.
 * No imports but the clock: the unit test runs it under Node.
 */
import { since } from './format.js';

/** the part of GET /api/cdc/status this reads (@ficus/contracts CdcStatus['writeback']) */
export interface WritebackAnswer {
  enabled: boolean;
  services: {
    name: string;
    waiting?: { since: string; lastError: string; partitions: number[]; tries: number } | null;
    goneRows?: { partition: number; topics: string[]; rows: number; since: string; waitingFor: string; until: string }[];
    parentWaits?: { partition: number; topics: string[]; rows: number; foreignKeys: ForeignKey[]; since: string; until: string }[];
  }[];
  emergency?: { file: string; rules: 'all' | string[]; reason?: string; by?: string; since: string; services: { name: string; rule: string }[] } | null;
}

interface ForeignKey {
  table: string;
  constraint: string;
  parentTable: string | null;
}

export interface WritebackHold {
  kind: 'database' | 'gone-rows' | 'parent-rows' | 'emergency';
  service?: string;
  text: string;
}

const foreignKeys = (fks: ForeignKey[]) =>
  fks.length === 0 ? 'a foreign key' : fks.map((k) => `foreign key ${k.constraint} of ${k.table}${k.parentTable ? `, wanting a row of ${k.parentTable}` : ''}`).join('; ');

const partitions = (ps: number[]) => (ps.length === 1 ? `partition ${ps[0]}` : `partitions ${ps.join(', ')}`);

export function writebackHolds(wb: WritebackAnswer | undefined, now = Date.now()): WritebackHold[] {
  if (!wb?.enabled) return [];
  const holds: WritebackHold[] = [];
  for (const s of wb.services) {
    const w = s.waiting;
    if (w) {
      holds.push({
        kind: 'database',
        service: s.name,
        text: `Write-back from ${s.name} waits for the legacy database since ${since(w.since, now)} (${partitions(w.partitions)}, ${w.tries} ${w.tries === 1 ? 'try' : 'tries'}; last: ${w.lastError}): its changes reach the legacy once it answers.`,
      });
    }
    for (const h of s.goneRows ?? []) {
      holds.push({
        kind: 'gone-rows',
        service: s.name,
        text: `Write-back from ${s.name} held on partition ${h.partition} since ${since(h.since, now)}: ${h.rows} update(s) of ${h.topics.join(', ')} whose legacy row is gone (its key changed there, or it was deleted); waiting for CDC to pass ${h.waitingFor}; from ${since(h.until, now)} on, those still waiting are dead-lettered as not known.`,
      });
    }
    for (const h of s.parentWaits ?? []) {
      holds.push({
        kind: 'parent-rows',
        service: s.name,
        text: `Write-back from ${s.name} held on partition ${h.partition} since ${since(h.since, now)}: ${h.rows} row(s) of ${h.topics.join(', ')} the legacy refuses until their parent row is there (${foreignKeys(h.foreignKeys)}); from ${since(h.until, now)} on, those still refused are dead-lettered.`,
      });
    }
  }
  const e = wb.emergency;
  if (e) {
    const rules = e.rules === 'all' ? 'all' : e.rules.join(', ');
    const held =
      e.services.length > 0
        ? `the legacy holds the record of ${e.services.map((s) => `${s.name} (${s.rule})`).join(', ')}: a legacy edit of a field the service changed too stays`
        : "it holds no write-back service's record";
    holds.push({ kind: 'emergency', text: `Emergency override file ${e.file} (rules: ${rules}) in force on the CDC since ${since(e.since, now)}${e.by ? ` by ${e.by}` : ''}${e.reason ? `: ${e.reason}` : ''}; ${held}.` });
  }
  return holds;
}
