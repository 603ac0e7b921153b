/**
 * `ficus conflicts list | show | resolve`: the CDC changes an extracted service did not apply
 * because its own change of the row was later (README, "The conflict rule"), kept for review.
 * Each service serves its own under /api/services/<service>/conflicts; the admin API passes
 * them through (same tokens and roles: viewer to list, operator to show and resolve). The
 * listing has no field values (PHI); `show` gives one change whole, on the audit record.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { ServiceConflictDetail, ServiceConflicts, ServiceConflict } from '@ficus/contracts/api';
import { contextOf } from '../context.js';
import { ApiFailure, CliFailure, EXIT_INCOMPLETE, IncompleteResult, UsageFailure } from '../failures.js';
import * as parse from '../option-parsers.js';
import { fields, note, printResult, table } from '../output.js';

export const SERVICES = ['patient-service', 'results-service'] as const;
type Service = (typeof SERVICES)[number];

function serviceName(value: string): Service {
  const found = SERVICES.find((s) => s === value);
  if (!found) throw new InvalidArgumentError(`"${value}" is not a service: ${SERVICES.join(' or ')}`);
  return found;
}

function conflictId(value: string): string {
  if (!/^[1-9][0-9]{0,18}$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a conflict id (a whole number, as \`ficus conflicts list\` shows)`);
  return value;
}

const base = (service: string) => `/api/services/${service}/conflicts`;
const keyText = (key: Record<string, unknown>) =>
  Object.entries(key)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');

const SERVICE_URL_ENV: Record<Service, string> = { 'patient-service': 'FICUS_PATIENT_SERVICE_API_URL', 'results-service': 'FICUS_RESULTS_SERVICE_API_URL' };

/**
 * A service on a Ficus version older than conflict review answers the admin API's pass-through
 * with its own plain 404 (no problem body: every Ficus refusal has a problem type, "No such
 * conflict" too). Said as what it is, not as a refusal of the call.
 */
class ServiceTooOld extends CliFailure {
  static readonly title = 'does not offer conflict review: too old';

  constructor(service: Service, request: string) {
    super(`${service} does not offer conflict review: it answered ${request} with a plain HTTP 404, as a service older than conflict review does; upgrade it`, [
      `the admin API passes /api/services/${service}/* to ${SERVICE_URL_ENV[service]}; until the service there is upgraded, its conflicts are only in its table ficus_change_conflicts`,
    ]);
  }
}

function tooOld(service: Service, request: string, e: unknown): ServiceTooOld | undefined {
  if (!(e instanceof ApiFailure) || e.status !== 404) return undefined;
  const type = e.problem.type;
  return typeof type !== 'string' || type === 'about:blank' ? new ServiceTooOld(service, request) : undefined;
}

/** a call to a service's conflict routes, a plain 404 said as a service too old for them */
async function asking<T>(service: Service, request: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (e) {
    throw tooOld(service, request, e) ?? e;
  }
}

/** a service that did not answer: its conflicts are not in the listing */
interface Unavailable {
  service: Service;
  status: number;
  title: string;
  detail?: string;
}

function conflictFields(c: ServiceConflict): [string, unknown][] {
  return [
    ['conflict', `${c.service} ${c.id}`],
    ['topic', c.topic],
    ['key', keyText(c.key)],
    ['op', c.op],
    ['source', `${c.source} at ${c.position}`],
    ['committed', c.commitTime ?? 'unknown (the source gave no time)'],
    ['recorded', c.recordedAt],
    ['reason', c.reason],
    ['resolved', c.resolvedAt ? `${c.resolvedAt} by ${c.resolvedBy}: ${c.resolutionNote}` : 'no'],
  ];
}

export function addConflictCommands(program: Command): void {
  const conflicts = program
    .command('conflicts')
    .description("CDC changes a new service did not apply (a legacy change older than the service's own): review them and mark them resolved");

  conflicts
    .command('list')
    .description('conflicts not resolved yet, newest first, with the unresolved count per topic and when its oldest was recorded (no field values: see one with show)')
    .addOption(new Option('--service <service>', 'only this service (default: both)').choices([...SERVICES]))
    .option('--topic <topic>', 'only this CDC topic (patients, admissions, lab-results)')
    .option('--key <value>', 'only rows whose key has this value (an MRN, a result id) or is this JSON ({"mrn":"1234567"})')
    .option('--since <time>', 'recorded at or after: ISO 8601 or an age (2h, 7d)', (v: string) => parse.instant(v))
    .option('--all', 'resolved ones too')
    .option('--limit <n>', 'how many per service (1-1000)', parse.integer(1, 1000), 100)
    .option('--cursor <id>', "with --service: the page after the last one's (its \"next\" line)", conflictId)
    .addHelpText(
      'after',
      `\nWithout --service both services are asked. One that does not answer is shown as unavailable, with a\nnote on stderr, and the exit code is ${EXIT_INCOMPLETE}: its conflicts may be waiting unseen. With --service, a service\nthat does not answer is exit 1.\n\nExample:\n  ficus conflicts list --service patient-service --key 1234567 --all`,
    )
    .action(async (opts: { service?: Service; topic?: string; key?: string; since?: string; all?: boolean; limit: number; cursor?: string }, cmd: Command) => {
      if (opts.cursor && !opts.service) throw new UsageFailure('--cursor needs --service: each service pages its own conflicts');
      const ctx = contextOf(cmd);
      const services: Service[] = opts.service ? [opts.service] : [...SERVICES];
      const query = { topic: opts.topic, key: opts.key, since: opts.since, all: opts.all ? 'true' : undefined, limit: opts.limit, cursor: opts.cursor };
      // asked together: a hung service costs its timeout once, not before the other is asked
      const settled = await Promise.allSettled(services.map((s) => asking(s, `GET ${base(s)}`, () => ctx.client().get<ServiceConflicts>(base(s), query))));
      const answers: ServiceConflicts[] = [];
      const unavailable: Unavailable[] = [];
      for (const [i, s] of settled.entries()) {
        if (s.status === 'fulfilled') {
          answers.push(s.value);
          continue;
        }
        const e: unknown = s.reason;
        const service = services[i]!;
        if (services.length > 1 && e instanceof ServiceTooOld) {
          // its conflicts cannot be read, as a service down: the other's are still shown
          unavailable.push({ service, status: 404, title: ServiceTooOld.title, detail: e.message });
          note(ctx.json ? JSON.stringify({ ...e.toProblem(), status: 404, service }) : e.message);
          continue;
        }
        if (services.length === 1 || !(e instanceof ApiFailure) || ![502, 503, 504].includes(e.status)) throw e;
        unavailable.push({ service, status: e.status, title: e.problem.title ?? e.message, ...(e.problem.detail ? { detail: e.problem.detail } : {}) });
        if (ctx.json) note(JSON.stringify({ type: e.problem.type ?? 'about:blank', title: `${service}: ${e.problem.title ?? e.message}`, status: e.status, ...(e.problem.detail ? { detail: e.problem.detail } : {}), service }));
        else note(`${service}: ${e.message}`);
      }
      const rows = answers.flatMap((a) => a.conflicts).sort((a, b) => b.recordedAt.localeCompare(a.recordedAt));
      const counts = answers.flatMap((a) => a.unresolved.map((u) => ({ service: a.service, ...u })));
      const json = { services: answers, ...(unavailable.length > 0 ? { unavailable } : {}) };
      printResult(ctx.json, json, () => [
        // the oldest is what says whether anyone reviews them (FicusConflictsUnreviewed fires after an hour)
        table(['service', 'topic', 'unresolved', 'oldest'], [...counts.map((c) => [c.service, c.topic, c.count, c.oldest]), ...unavailable.map((u) => [u.service, '*', `unavailable (${u.title})`])]),
        '',
        rows.length === 0
          ? `no ${opts.all ? '' : 'unresolved '}conflicts${unavailable.length > 0 ? ' in the services that answered' : ''}`
          : table(
              ['service', 'id', 'topic', 'key', 'op', 'committed', 'recorded', 'reason', ...(opts.all ? ['resolved'] : [])],
              rows.map((c) => [c.service, c.id, c.topic, keyText(c.key), c.op, c.commitTime, c.recordedAt, c.reason, ...(opts.all ? [c.resolvedAt ? `${c.resolvedAt} by ${c.resolvedBy}` : 'no'] : [])]),
            ),
        ...answers.filter((a) => a.nextCursor).map((a) => `next: ficus conflicts list --service ${a.service} --cursor ${a.nextCursor}${opts.all ? ' --all' : ''} (and the same filters)`),
      ]);
      if (unavailable.length > 0) throw new IncompleteResult(`${unavailable.map((u) => u.service).join(', ')} unavailable`);
    });

  conflicts
    .command('show')
    .description('one conflict and the change the service did not apply (its field values: patient data, so operator, and each look is on the audit log)')
    .argument('<service>', SERVICES.join(' or '), serviceName)
    .argument('<id>', 'the conflict id, as list shows it', conflictId)
    .addHelpText('after', '\nExample:\n  ficus conflicts show patient-service 42')
    .action(async (service: Service, id: string, _opts: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const c = await asking(service, `GET ${base(service)}/${id}`, () => ctx.client().get<ServiceConflictDetail>(`${base(service)}/${id}`));
      printResult(ctx.json, c, () => [...fields(conflictFields(c)), '', 'change:', JSON.stringify(c.change, null, 2)]);
    });

  conflicts
    .command('resolve')
    .description('mark a conflict reviewed: it leaves the default list; who and why stay with it and in the audit log (operator)')
    .argument('<service>', SERVICES.join(' or '), serviceName)
    .argument('<id>', 'the conflict id, as list shows it', conflictId)
    .requiredOption('--reason <text>', 'what was done about it (kept with the conflict and in the audit log)', parse.reason)
    .addHelpText('after', '\nExample:\n  ficus conflicts resolve patient-service 42 --reason "legacy address re-entered in the service"')
    .action(async (service: Service, id: string, opts: { reason: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await asking(service, `POST ${base(service)}/${id}/resolve`, () => ctx.client().post<{ conflict: ServiceConflict }>(`${base(service)}/${id}/resolve`, { reason: opts.reason }));
      printResult(ctx.json, r, () => `resolved ${r.conflict.service} conflict ${r.conflict.id} (${r.conflict.topic} ${keyText(r.conflict.key)}) as ${r.conflict.resolvedBy}`);
    });
}
