/**
 * The changes an admin makes, as one service: each checks the new rule set in full, commits
 * it as a new version on top of the version the admin started from, records the change in the
 * audit log in the same transaction, and announces it to every gateway instance.
 */
import { ALLOW_REMOVAL_HINT, auditEntry, describeRule, StaleVersionError, validateRuleDocuments, type ParityStore, type AuditEntry, type AuditLog, type ChangeKind, type ChangeRecord, type Logger, type Origin, type Principal, type RuleIssue, type RuleSet, type RuleStore, type RuleVersion, type ValidationOptions, type WeakenedGate } from '@ficus/contracts';
import { flipsToLegacy, GateWeakeningError, keepGates, weakenedGates } from './gate-weakening.js';
import { checkGates, evidenceMinutes, gatedMoves, ParityGateError, type GateFigures } from './parity-gate.js';
import { applyFlip, type Flip } from './rule-changes.js';
import { diffRuleSets } from './rule-diff.js';

export class InvalidRuleSetError extends Error {
  constructor(readonly issues: RuleIssue[]) {
    super('the rule set is invalid');
  }
}

export class UnknownVersionError extends Error {
  constructor(readonly version: number) {
    super(`no version ${version}`);
  }
}

export interface ChangeResult {
  version: RuleVersion;
  changed: boolean;
  /** gates this change went through: open ones, and closed ones an admin forced */
  gates?: GateFigures[];
  /** what the new rules allow but probably should not (a flip: the flipped rule's only) */
  warnings?: RuleIssue[];
}

/** An admin's decision to go past a closed parity gate; the change's reason says why. */
export interface Force {
  force: boolean;
}

export class ControlPlane {
  constructor(
    private readonly store: RuleStore,
    private readonly audit: AuditLog,
    private readonly announce: (version: number) => void,
    private readonly log: Logger,
    private readonly parity?: ParityStore,
    /** how this gateway matches (a rule covered only when case is folded is warned about) */
    private readonly validation: ValidationOptions = {},
  ) {}

  /** Refuses a change that moves traffic past a closed parity gate, unless forced. */
  private async gate(before: RuleSet, after: RuleSet, force: boolean, inForce = false): Promise<GateFigures[]> {
    const moves = gatedMoves(before, after, inForce);
    if (moves.length === 0 || !this.parity) return [];
    // the target each rule sent to over the windows: evidence counts only for the target it was gathered against
    const now = Date.now();
    const longest = Math.max(...moves.map((m) => m.gate.windowMinutes));
    const history = await this.store.inForceSince(new Date(now - longest * 60_000));
    const figures = await checkGates(
      moves.map((m) => ({ ...m, minutes: evidenceMinutes(history, m.rule, m.target, m.gate.windowMinutes, now) })),
      this.parity,
      now,
    );
    const closed = figures.filter((g) => !g.open);
    if (closed.length > 0 && !force) throw new ParityGateError(closed);
    return figures;
  }

  /** Removing or loosening a parity gate is an admin's decision; answers what it removes or loosens. */
  private gatesLoosened(who: Principal, before: RuleSet, after: RuleSet, change: string, instead: string[] = []): WeakenedGate[] {
    const weakened = weakenedGates(before, after);
    if (weakened.length > 0 && who.role !== 'admin') throw new GateWeakeningError(weakened, change, instead);
    return weakened;
  }

  /**
   * Schema and meaning; the issues name rule id, field and reason. Given the rules serving now,
   * also what the change would stop routing (routing-guard.ts): refused unless an admin allows it.
   */
  check(ruleSet: unknown, servingNow?: RuleSet, allowRemoval = false, stored = false): { ruleSet: RuleSet; warnings: RuleIssue[]; lost: RuleIssue[] } {
    const result = validateRuleDocuments([{ data: ruleSet }], { ...this.validation, parityGated: true, stored, ...(servingNow ? { servingNow, allowRemoval } : {}) });
    if (!result.ok) throw new InvalidRuleSetError(result.errors.map((e) => (e.loss ? { ...e, reason: `${e.reason}; ${ALLOW_REMOVAL_HINT}` } : e)));
    return { ruleSet: result.ruleSet, warnings: result.warnings, lost: result.warnings.filter((w) => w.loss) };
  }

  async current(): Promise<RuleVersion> {
    const v = await this.store.current();
    if (!v) throw new UnknownVersionError(0);
    return v;
  }

  async version(n: number): Promise<RuleVersion> {
    const v = await this.store.get(n);
    if (!v) throw new UnknownVersionError(n);
    return v;
  }

  async flip(who: Principal, origin: Origin, ruleId: string, flip: Flip, reason: string, base: number, force = false): Promise<ChangeResult> {
    const current = await this.current();
    await this.notStale(base, current);
    const { ruleSet, before, after } = applyFlip(current.ruleSet, ruleId, flip);
    // a flip cannot empty a section or drop a catch-all's match, but the guard is the same for every change
    const { ruleSet: checked, warnings } = this.check(ruleSet, current.ruleSet);
    // a flip to what the rule already does makes no version: the history shows only real moves
    if (sameRouting(before, after)) {
      await this.record(who, origin, { action: 'rules.flip', target: ruleId, reason, outcome: 'ok', status: 200, version: current.version, detail: { changed: false, now: describeRule(before) } });
      return { version: current, changed: false };
    }
    const gates = await this.gate(current.ruleSet, checked, force);
    const change: ChangeRecord = {
      kind: 'flip',
      rule: ruleId,
      from: { mode: before.mode, percent: 'percent' in before ? before.percent : undefined, target: before.target },
      to: { mode: after.mode, percent: 'percent' in after ? after.percent : undefined, target: after.target },
      summary: `${ruleId}: ${describeRule(before)} → ${describeRule(after)}`,
    };
    const result = await this.commit(who, origin, 'rules.flip', ruleId, checked, reason, base, withGates(change, gates));
    return withWarnings(result, warnings.filter((w) => w.ruleId === ruleId));
  }

  /**
   * A whole rule set (PUT /api/rules, `ficus import`). An identical one makes no version. One that
   * drops routing serving now needs `allowRemoval` (the route lets only an admin make a change
   * like this), and the version records what it dropped.
   */
  async apply(
    who: Principal,
    origin: Origin,
    ruleSet: unknown,
    reason: string,
    base: number,
    kind: Extract<ChangeKind, 'apply' | 'import'>,
    force = false,
    allowRemoval = false,
    /** the version the imported files were exported from, when their header says */
    exportedFrom?: number,
  ): Promise<ChangeResult> {
    const current = await this.current();
    await this.notStale(base, current);
    const { ruleSet: checked, warnings, lost } = this.check(ruleSet, current.ruleSet, allowRemoval);
    const weakened = this.gatesLoosened(who, current.ruleSet, checked, `the ${kind}`);
    const gates = await this.gate(current.ruleSet, checked, force);
    const diff = diffRuleSets(current.ruleSet, checked);
    if (diff.identical) {
      await this.record(who, origin, { action: `rules.${kind}`, target: 'rule-set', reason, outcome: 'ok', status: 200, version: current.version, detail: { changed: false } });
      return withWarnings({ version: current, changed: false }, warnings);
    }
    const ids = (list: { id: string }[]) => list.map((x) => x.id).join(', ');
    const all = { added: [...diff.rules.added, ...diff.hl7.added], removed: [...diff.rules.removed, ...diff.hl7.removed], changed: [...diff.rules.changed, ...diff.hl7.changed], moved: [...diff.rules.moved, ...diff.hl7.moved] };
    const summary = [
      all.added.length && `added ${ids(all.added)}`,
      all.removed.length && `removed ${ids(all.removed)}`,
      all.changed.length && `changed ${ids(all.changed)}`,
      all.moved.length && `moved ${ids(all.moved)}`,
      diff.upstreams.added.length + diff.upstreams.removed.length + diff.upstreams.changed.length && 'upstreams changed',
    ]
      .filter(Boolean)
      .join('; ');
    // an import of files made before live flips puts their modes back: the summary says which
    const moves = [...routingMoves(current.ruleSet, checked), ...gateChanges(current.ruleSet, checked)];
    const said = (summary || 'no change in behaviour') + (moves.length > 0 ? ` (${moves.join('; ')})` : '');
    // files exported before later changes, applied over them on purpose: the record says so
    const over = exportedFrom !== undefined && exportedFrom !== base ? { exportedFrom, summary: `${said} (files exported from version ${exportedFrom}, applied over version ${base})` } : { summary: said };
    const result = await this.commit(who, origin, `rules.${kind}`, 'rule-set', checked, reason, base, withRemoved(withWeakened(withGates({ kind, ...over }, gates), weakened), lost));
    return withWarnings(result, warnings);
  }

  /**
   * A new version whose rules are those of an earlier one. Gated as an import: a rule it moves
   * further toward the new service needs its gate (the one in force now, else the version's), so
   * an old version is no way past a closed gate. Back toward legacy it is never held. A version
   * without a gate a rule has now (or with a looser one) would let the next flip pass ungated:
   * an admin's rollback restores it (on the record); an operator's keeps the gate in force, so
   * an operator can always roll routing back in an incident. Only a rollback that drops a gated
   * rule altogether still needs an admin; the refusal names the flips an operator may make.
   */
  async rollback(who: Principal, origin: Origin, to: number, reason: string, base: number, force = false, allowRemoval = false): Promise<ChangeResult> {
    const target = await this.version(to);
    const current = await this.current();
    await this.notStale(base, current);
    const { ruleSet: restored, kept } = who.role === 'admin' ? { ruleSet: target.ruleSet, kept: [] } : keepGates(current.ruleSet, target.ruleSet);
    // an old version may predate the HL7 rules or the catch-all: guarded as an import is
    // rules that were applied once: a check added since warns, it does not hold a rollback (an incident's way back)
    const { ruleSet, lost } = this.check(restored, current.ruleSet, allowRemoval, true);
    if (diffRuleSets(current.ruleSet, ruleSet).identical) {
      await this.record(who, origin, { action: 'rules.rollback', target: `version ${to}`, reason, outcome: 'ok', status: 200, version: current.version, detail: { changed: false } });
      return { version: current, changed: false };
    }
    const weakened = this.gatesLoosened(who, current.ruleSet, ruleSet, `the rollback to version ${to}`, flipsToLegacy(current.ruleSet, ruleSet));
    const gates = await this.gate(current.ruleSet, ruleSet, force, true);
    // what the rollback puts back or takes away besides modes: an audit reader sees every rule it touches
    const diff = diffRuleSets(current.ruleSet, ruleSet);
    const ids = (list: { id: string }[]) => list.map((x) => x.id).join(', ');
    const added = [...diff.rules.added, ...diff.hl7.added];
    const removed = [...diff.rules.removed, ...diff.hl7.removed];
    const moves = [...routingMoves(current.ruleSet, ruleSet), added.length > 0 && `added ${ids(added)}`, removed.length > 0 && `removed ${ids(removed)}`].filter((x): x is string => typeof x === 'string');
    const summary = `rollback to version ${to}${moves.length > 0 ? `: ${moves.join('; ')}` : ''}`;
    const change = withKept(withGates({ kind: 'rollback', rollbackTo: to, summary }, gates), kept, to);
    return this.commit(who, origin, 'rules.rollback', `version ${to}`, ruleSet, reason, base, withRemoved(withWeakened(change, weakened), lost));
  }

  /**
   * A change made on an out-of-date view is refused as such before anything else is said about
   * it (a closed gate, an invalid rule): "someone changed the rules meanwhile" is what its
   * author must learn first, and the gate's figures were for rules that are no longer there.
   * The store checks the base again when it commits, for a change that lands in between.
   */
  private async notStale(base: number, current: RuleVersion): Promise<void> {
    if (base !== current.version) throw await this.explainStale(new StaleVersionError(base, current.version));
  }

  /**
   * Says who got there first and what changed since the base, so the loser can decide without
   * another call: an old export imported as it is would undo every one of those changes.
   */
  private async explainStale(e: StaleVersionError): Promise<StaleVersionError> {
    const recent = await this.store.list(STALE_VERSIONS_SHOWN);
    e.winner = recent[0];
    if (e.base >= e.current) return e;
    e.since = recent.filter((v) => v.version > e.base).reverse();
    const [from, to] = await Promise.all([this.store.get(e.base), this.store.get(e.current)]);
    if (from && to) {
      const d = diffRuleSets(from.ruleSet, to.ruleSet);
      const ids = [d.rules, d.hl7].flatMap((r) => [...r.added, ...r.removed, ...r.changed, ...r.moved].map((x) => x.id));
      e.rulesChanged = [...new Set(ids)];
    }
    return e;
  }

  /** Audit entry for a write that made no version (refused, denied, tokens). */
  async record(who: Principal | undefined, origin: Origin, e: Omit<AuditEntry, 'actor' | 'tokenId' | 'role' | 'auth' | 'sourceIp' | 'userAgent'>, db?: Parameters<AuditLog['append']>[1]): Promise<void> {
    await this.audit.append(auditEntry(who, origin, e), db);
  }

  private async commit(who: Principal, origin: Origin, action: string, target: string, ruleSet: RuleSet, reason: string, base: number, change: ChangeRecord): Promise<ChangeResult> {
    let version: RuleVersion;
    // a forced change is on the record as such, with the figures it went past
    const forced = change.gates?.some((g) => !g.open) === true;
    try {
      version = await this.store.commit(base, ruleSet, who.actor, reason, change, (client, v) =>
        this.record(who, origin, { action, target, reason, outcome: 'ok', status: 200, version: v.version, detail: forced ? { change, forced: true, gates: change.gates } : { change } }, client),
      );
    } catch (e) {
      if (e instanceof StaleVersionError) throw await this.explainStale(e);
      throw e;
    }
    this.log.info({ version: version.version, actor: who.actor, action, summary: change.summary, forced }, forced ? 'rule set changed past a closed parity gate (forced)' : 'rule set changed');
    this.announce(version.version);
    return { version, changed: true, ...(change.gates ? { gates: change.gates } : {}) };
  }
}

/** how many of the versions made since a stale base a 409 lists (the latest) */
const STALE_VERSIONS_SHOWN = 20;

const sameRouting = (a: { mode: string; target?: string }, b: { mode: string; target?: string }): boolean =>
  a.mode === b.mode && a.target === b.target && ('percent' in a ? a.percent : undefined) === ('percent' in b ? b.percent : undefined);

/**
 * What a rule set does to the routing of the rules the one before has too, in words
 * (`patients-read: shadow (patient-service) → legacy`). A rule in legacy sends nothing to its
 * target: a target set or changed there moves no request, and is no move.
 */
function routingMoves(before: RuleSet, after: RuleSet): string[] {
  const was = new Map<string, { mode: string; target?: string; percent?: number }>([...before.http, ...(before.hl7 ?? [])].map((r) => [r.id, r]));
  return [...after.http, ...(after.hl7 ?? [])].flatMap((r) => {
    const b = was.get(r.id);
    return b && !sameRouting(b, r) && describeRule(b) !== describeRule(r) ? [`${r.id}: ${describeRule(b)} → ${describeRule(r)}`] : [];
  });
}

/** the order a gate's fields are named in, whatever order its file or request wrote them in */
const GATE_FIELDS = ['threshold', 'minCompared', 'minKeys', 'window', 'gateAbovePercent'];
const fieldRank = (k: string) => (GATE_FIELDS.includes(k) ? GATE_FIELDS.indexOf(k) : GATE_FIELDS.length);

const gateText = (parity: object): string =>
  Object.entries(parity)
    .sort(([a], [b]) => fieldRank(a) - fieldRank(b) || a.localeCompare(b))
    .map(([k, v]) => `${k} ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(', ');

const sameGate = (a: object | undefined, b: object | undefined): boolean => (a === undefined || b === undefined ? a === b : gateText(a) === gateText(b));

/** The parity gates a rule set adds, removes or changes on the rules the one before has too, in words. */
function gateChanges(before: RuleSet, after: RuleSet): string[] {
  const was = new Map<string, { parity?: object }>([...before.http, ...(before.hl7 ?? [])].map((r) => [r.id, r]));
  return [...after.http, ...(after.hl7 ?? [])].flatMap((r) => {
    const b = was.get(r.id);
    if (!b || sameGate(b.parity, r.parity)) return [];
    if (!b.parity) return [`${r.id}: parity gate added (${gateText(r.parity!)})`];
    if (!r.parity) return [`${r.id}: parity gate removed`];
    return [`${r.id}: parity gate ${gateText(b.parity)} → ${gateText(r.parity)}`];
  });
}

const withWarnings = (r: ChangeResult, warnings: RuleIssue[]): ChangeResult => (warnings.length > 0 ? { ...r, warnings } : r);

function withGates(change: ChangeRecord, gates: GateFigures[]): ChangeRecord {
  if (gates.length === 0) return change;
  const forced = gates.some((g) => !g.open);
  return { ...change, gates, ...(forced ? { forced: true, summary: `${change.summary} (forced past the parity gate)` } : {}) };
}

/** Routing an admin allowed the change to drop, on the version and in the audit log. */
function withRemoved(change: ChangeRecord, lost: RuleIssue[]): ChangeRecord {
  if (lost.length === 0) return change;
  const removedRouting = lost.map((l) => `${l.ruleId ? `rule "${l.ruleId}": ` : ''}${l.reason}`);
  return { ...change, removedRouting, summary: `${change.summary} (routing removed, allowed by an admin: ${removedRouting.join('; ')})` };
}

/** Gates an operator's rollback kept in force: the version's rules are not quite the rolled-back version's, and the record says where. */
function withKept(change: ChangeRecord, kept: WeakenedGate[], to: number): ChangeRecord {
  if (kept.length === 0) return change;
  return { ...change, keptGates: kept, summary: `${change.summary} (parity gate kept as in force, version ${to}'s would loosen it: ${kept.map((k) => `${k.rule}, ${k.what}`).join('; ')})` };
}

function withWeakened(change: ChangeRecord, weakened: WeakenedGate[]): ChangeRecord {
  if (weakened.length === 0) return change;
  return { ...change, weakenedGates: weakened, summary: `${change.summary} (parity gate loosened: ${weakened.map((w) => `${w.rule}, ${w.what}`).join('; ')})` };
}
