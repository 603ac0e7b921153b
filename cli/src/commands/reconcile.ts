/**
 * `ficus reconcile patients | results`: compares what the legacy system and a new service
 * hold, through their HTTP contract (no database access): counts, an order-independent
 * checksum per side, what is only on one side, what differs and in which fields. No PHI
 * without --show-phi: records are named by stable hashes, differences by field paths.
 * Exit 0 when both sides agree, 3 when they differ, 1 when a side cannot be asked.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { normaliseUrl } from '../config.js';
import { contextOf } from '../context.js';
import { DifferencesFound } from '../failures.js';
import * as parse from '../option-parsers.js';
import { printResult } from '../output.js';
import { ignoreSpec, isFieldPath } from '../reconcile/canonical.js';
import { ContractClient } from '../reconcile/contract-client.js';
import { pseudonymiser } from '../reconcile/pseudonym.js';
import { reportJson, reportText } from '../reconcile/render.js';
import { reconcilePatients, reconcileResults, type ReconcileKind, type ReconcileOptions } from '../reconcile/run.js';

const DEFAULT_LEGACY_URL = 'http://127.0.0.1:8000';
const SERVICES: Record<ReconcileKind, { name: string; env: string; url: string }> = {
  patients: { name: 'patient-service', env: 'FICUS_PATIENT_SERVICE_URL', url: 'http://127.0.0.1:8101' },
  results: { name: 'results-service', env: 'FICUS_RESULTS_SERVICE_URL', url: 'http://127.0.0.1:8102' },
};

interface ReconcileFlags {
  legacy?: string;
  service?: string;
  patientService?: string;
  mrn?: string[];
  concurrency: number;
  sample: number;
  ignore?: string[];
  showPhi?: boolean;
}

function fieldPath(value: string, previous: string[] = []): string[] {
  if (!isFieldPath(value)) throw new InvalidArgumentError(`"${value}" is not a field name or dotted path (lastUpdated, address.zip)`);
  return [...previous, value];
}

function mrn(value: string, previous: string[] = []): string[] {
  // the contract's MRNs: 6 to 10 digits
  if (!/^[0-9]{6,10}$/.test(value)) throw new InvalidArgumentError('an MRN is 6 to 10 digits');
  return [...previous, value];
}

/** flag, then environment, then default; a bad URL names where it came from */
function urlFrom(flag: string | undefined, flagName: string, env: string, fallback: string): string {
  if (flag !== undefined) return normaliseUrl(flag, flagName);
  const fromEnv = process.env[env];
  return fromEnv ? normaliseUrl(fromEnv, env) : fallback;
}

async function run(kind: ReconcileKind, flags: ReconcileFlags, cmd: Command): Promise<void> {
  const ctx = contextOf(cmd);
  const svc = SERVICES[kind];
  const legacyUrl = urlFrom(flags.legacy, '--legacy', 'FICUS_LEGACY_URL', DEFAULT_LEGACY_URL);
  const serviceUrl = urlFrom(flags.service, '--service', svc.env, svc.url);
  const options: ReconcileOptions = {
    legacy: new ContractClient('the legacy system', legacyUrl, 'set --legacy or FICUS_LEGACY_URL to the legacy API (default http://127.0.0.1:8000)'),
    service: new ContractClient(svc.name, serviceUrl, `set --service or ${svc.env} to ${svc.name} (default ${svc.url})`),
    patientService: flags.patientService ? new ContractClient('patient-service', normaliseUrl(flags.patientService, '--patient-service'), 'check --patient-service') : undefined,
    mrns: flags.mrn,
    concurrency: flags.concurrency,
    sample: flags.sample,
    ignore: ignoreSpec(flags.ignore ?? []),
  };
  const report = kind === 'patients' ? await reconcilePatients(options) : await reconcileResults(options);
  const render = { showPhi: flags.showPhi === true, pseudonym: pseudonymiser(process.env.FICUS_RECONCILE_KEY || undefined), ignored: flags.ignore ?? [] };
  printResult(ctx.json, reportJson(report, render), () => reportText(report, render));
  if (!report.clean) throw new DifferencesFound('differences found');
}

const HELP = `
The comparison goes through the legacy HTTP contract on both sides (no database access), so it
works against any legacy that speaks it. Records are compared as JSON: the order of object keys
does not matter, the order of arrays does. The checksum of a side is SHA-256 over the sorted
SHA-256 hashes of its records' canonical JSON, ignored fields removed: equal checksums, equal
records.

Without --show-phi nothing identifies a patient: records are named by a 12-character hash of
the MRN (and of the stay or result id), differences by field path. An MRN has few digits, so a
plain hash can be reversed by trying them all: set FICUS_RECONCILE_KEY to a secret to make the hashes
HMACs under it.

Environment: FICUS_LEGACY_URL, FICUS_PATIENT_SERVICE_URL, FICUS_RESULTS_SERVICE_URL, FICUS_RECONCILE_KEY.
Exit codes: 0 both sides agree, 3 differences found, 1 a side cannot be reached or answers
outside the contract, 2 usage error.`;

function addSubcommand(parent: Command, kind: ReconcileKind, description: string): Command {
  const svc = SERVICES[kind];
  return parent
    .command(kind)
    .description(description)
    .option('--legacy <url>', `the legacy API (default $FICUS_LEGACY_URL or ${DEFAULT_LEGACY_URL})`)
    .option('--service <url>', `${svc.name} (default $${svc.env} or ${svc.url})`)
    .option('--mrn <mrn>', 'compare this patient only, without listing (repeatable)', mrn)
    .option('--concurrency <n>', 'requests in flight to each side (1-64)', parse.integer(1, 64), 8)
    .option('--sample <n>', 'differences to show per entity (0-1000)', parse.integer(0, 1000), 10)
    .option('--ignore <field>', 'leave a field out of the comparison and the checksums: a name at any depth (lastUpdated) or a dotted path (ward.description); repeatable', fieldPath)
    .option('--show-phi', 'print MRNs, ids and the differing values (patient data)')
    .addHelpText('after', HELP)
    .action((flags: ReconcileFlags, cmd: Command) => run(kind, flags, cmd));
}

export function addReconcileCommands(program: Command): void {
  const reconcile = program.command('reconcile').description('compare the legacy system with a new service, record by record, over their HTTP contract');
  addSubcommand(reconcile, 'patients', 'patients (GET /api/patients/{mrn}) and their stays (GET /api/encounters?mrn=): every MRN either side lists');
  addSubcommand(reconcile, 'results', "laboratory results (GET /api/results?mrn=) by resultId: every MRN the legacy lists (and patient-service's with --patient-service)").option(
    '--patient-service <url>',
    'also compare the patients patient-service lists (results-service has no patient list)',
  );
}
