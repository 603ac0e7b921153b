/**
 * `ficus rules list | show | explain | flip`: reading the current rules and moving one rule
 * between legacy, shadow, canary, new and retired (an HL7 rule: legacy, dual, new).
 */
import { Option, type Command } from 'commander';
import { describeRule, HL7_MODES, HTTP_MODES, type HttpRule } from '@ficus/contracts/rules';
import type { CurrentRules, Explanation, FlipAnswer, OneRule } from '../api-types.js';
import { contextOf } from '../context.js';
import * as parse from '../option-parsers.js';
import { fields, note, printResult, table } from '../output.js';
import { toYaml } from '../rule-yaml.js';

function describeMatch(rule: HttpRule): string {
  const m = rule.match;
  const methods = m.methods?.join(',') ?? '*';
  const paths = m.paths?.join(' ') ?? m.path ?? '';
  const extra = [
    ...Object.keys(m.headers ?? {}).map((h) => `header ${h}`),
    ...Object.keys(m.query ?? {}).map((q) => `query ${q}`),
  ];
  return [methods, paths, ...extra].join(' ');
}

function describeSticky(rule: HttpRule): string {
  const s = rule.sticky;
  if (!s) return '';
  const [kind, name] = Object.entries(s).find(([k]) => k !== 'salt') ?? [];
  return kind ? `${kind} ${String(name)}` : '';
}

export function versionLine(v: { version: number; author: string; createdAt: string; reason: string }): string {
  return `rule set version ${v.version}, by ${v.author} at ${v.createdAt}: "${v.reason}"`;
}

/**
 * The answering instance's emergency override file: the rules below show the stored modes, and
 * before 7 December 2026 a rule the file held read `new` here while the gateway sent it to legacy.
 */
function emergencyLines(r: Pick<CurrentRules, 'emergency'>): string[] {
  const e = r.emergency;
  if (!e) return [];
  const who = e.by ? ` by ${e.by}` : '';
  const why = e.reason ? `: ${e.reason}` : '';
  const held = e.pinned.length > 0 ? e.pinned.join(', ') : 'none of its HTTP rules';
  const hl7 = e.hl7?.length ? `; HL7 rules it names (${e.hl7.join(', ')}) are held by the HL7 adapter's own file (GET /api/hl7/emergency)` : '';
  return [`EMERGENCY OVERRIDE: ${e.file} in force on this gateway instance since ${e.since}${who}${why}; served from legacy whatever their stored mode: ${held}${hl7}`, ''];
}

/** a rule's mode as the answering instance serves it: the file holds it in legacy whatever the stored mode */
function servedMode(mode: string, held: boolean): string {
  if (!held) return mode;
  return mode === 'legacy' ? 'legacy (emergency)' : `${mode} → legacy (emergency)`;
}

/** `rules show`: the rule as YAML, what the file does to it as comments (the text stays a rule file's) */
function oneRuleText(r: OneRule): string[] {
  const held = r.emergency?.pinned.includes(r.rule.id) === true;
  const marks = held ? [...emergencyLines(r).filter((l) => l !== ''), `served as: ${servedMode(r.rule.mode, true)}`].map((l) => `# ${l}`) : [];
  return [`# rule #${r.index + 1} of rule set version ${r.version}`, ...marks, toYaml(r.rule).trimEnd()];
}

function rulesText(r: CurrentRules): string[] {
  const held = new Set(r.emergency?.pinned ?? []);
  const rules = table(
    ['#', 'id', 'match', 'mode', 'percent', 'target', 'sticky'],
    r.rules.map((rule, i) => [i + 1, rule.id, describeMatch(rule), servedMode(rule.mode, held.has(rule.id)), rule.mode === 'canary' ? rule.percent : '', rule.target, describeSticky(rule)]),
  );
  const upstreams = table(
    ['upstream', 'declared url'],
    Object.entries(r.upstreams).map(([name, u]) => [name, u.url]),
  );
  const hl7 = r.hl7?.length
    ? [
        '',
        table(
          ['#', 'hl7 rule', 'message types', 'events', 'senders', 'mode', 'target'],
          r.hl7.map((rule, i) => {
            const m = rule.match;
            const senders = [...(m.sendingApplications ?? []), ...(m.sendingFacilities ?? []).map((f) => `@${f}`)].join(' ');
            return [i + 1, rule.id, m.messageTypes?.join(' ') ?? '*', m.triggerEvents?.join(' ') ?? '*', senders || '*', rule.mode, rule.target];
          }),
        ),
      ]
    : [];
  return [versionLine(r), '', ...emergencyLines(r), rules, ...hl7, '', upstreams, '(as the rule set declares them: `ficus upstreams` shows the address a gateway instance uses, FICUS_UPSTREAM_<NAME>_URL included)'];
}

export function addRuleCommands(rules: Command): void {
  rules
    .command('list')
    .description('the current rules, in the order they are tried (first match wins), and the upstreams')
    .action(async (_opts, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<CurrentRules>('/api/rules');
      printResult(ctx.json, r, () => rulesText(r));
    });

  rules
    .command('show')
    .description("one rule, in full (as YAML); while the answering instance's emergency override file holds it, the file and the mode served as comments above")
    .argument('<id>', 'the rule id')
    .action(async (id: string, _opts, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<OneRule>(`/api/rules/${encodeURIComponent(id)}`);
      printResult(ctx.json, r, () => oneRuleText(r));
    });

  rules
    .command('explain')
    .description('which rule takes a request, where it goes, and why')
    .argument('<method>', 'the HTTP method, as the client sends it: GET, POST, ... (case-sensitive: the gateway answers `get` with 400)', parse.method)
    .argument('<path>', 'the path and query, as the client sends them (/api/patients/123?x=1)', parse.requestPath)
    .option('-H, --header <name:value>', 'a request header (repeatable)', parse.header, [])
    .addHelpText('after', '\nExample:\n  ficus rules explain GET /api/patients/123 --header x-ward:7')
    .action(async (method: string, path: string, opts: { header: string[] }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<Explanation>('/api/explain', { method, path, header: opts.header });
      printResult(ctx.json, r, () =>
        fields([
          ['rule', r.rule ?? '(none)'],
          ['mode', r.mode],
          ['target', r.target],
          ['reason', r.reason],
          ['version', r.version],
        ]),
      );
    });

  rules
    .command('flip')
    .description('change the mode (and percent, target) of one rule: a new version')
    .argument('<id>', 'the rule id')
    .addOption(new Option('--mode <mode>', `the new mode: ${HTTP_MODES.join(', ')} for an HTTP rule; ${HL7_MODES.join(', ')} for an HL7 rule`).choices([...new Set([...HTTP_MODES, ...HL7_MODES])]).makeOptionMandatory())
    .option('--percent <n>', 'canary: the share of sticky keys sent to the target, 0-100', parse.percent)
    .option('--target <upstream>', 'the new service (an upstream name)')
    .requiredOption('--reason <text>', 'why (kept in the version history and the audit log)', parse.reason)
    .option('--base <version>', 'the version this change starts from (default: the current one)', parse.baseVersion)
    .option('--force', 'go past a closed parity gate (role admin; the reason says why, and the audit log marks it as forced)')
    .addHelpText('after', '\nExamples:\n  ficus rules flip patients-read --mode shadow --reason "compare before the pilot"\n  ficus rules flip patients-read --mode canary --percent 20 --reason "pilot on ward 7"\n  ficus rules flip patients-read --mode new --force --reason "name format difference accepted by the ward"\n  ficus rules flip adt-patient-events --mode dual --reason "patient-service takes ADT beside legacy"')
    .action(async (id: string, opts: { mode: string; percent?: number; target?: string; reason: string; base?: number; force?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = ctx.client();
      const baseVersion = opts.base ?? (await client.currentVersion());
      const body = { mode: opts.mode, percent: opts.percent, target: opts.target, reason: opts.reason, baseVersion, ...(opts.force ? { force: true } : {}) };
      const r = await client.post<FlipAnswer>(`/api/rules/${encodeURIComponent(id)}/flip`, body);
      for (const w of r.warnings ?? []) note(`warning: rule "${id}": ${w.reason}`);
      printResult(ctx.json, r, () => (r.changed ? `version ${r.version}: ${r.change.summary} (from version ${baseVersion})` : `no change: rule "${id}" is already ${describeRule(r.rule)} (version ${r.version} stays)`));
    });
}
