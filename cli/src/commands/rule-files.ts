/**
 * `ficus rules validate | import | export`: rule files on disk and the rule set in the store.
 */
import type { Command } from 'commander';
import { formatIssue, loadRuleDir } from '@ficus/contracts/rules';
import type { ApplyAnswer, CurrentRules } from '../api-types.js';
import { contextOf } from '../context.js';
import { ApiFailure, CliFailure, ReportedFailure } from '../failures.js';
import * as parse from '../option-parsers.js';
import { note, printLines, printResult } from '../output.js';
import { checkRules, displayName, REMOVAL_NOTE, servedRuleSet } from '../rule-check.js';
import { exportedFrom, exportTexts, HL7_FILE, HTTP_FILE, UPSTREAMS_FILE, writeExport } from '../rule-export.js';

export function addRuleFileCommands(rules: Command): void {
  rules
    .command('validate')
    .description('check a rule file (or a rule folder) locally, with file:line:column for every issue')
    .argument('<file>', 'a YAML rule file, or a folder of them')
    .option('--paths-case-insensitive', 'also warn about rules that can never match on a gateway run with FICUS_PATHS_CASE_INSENSITIVE=true')
    .addHelpText(
      'after',
      '\nA file with only `http:` rules is checked against the upstreams of the current rule set\n(and one with only `upstreams:` against its rules), fetched from the admin API; if that\nfails, the file is checked alone and the output says so. A folder is compared with the current\nrule set: one that leaves no HTTP rules, no HL7 rules, or no catch-all where the current rules\nhave them is invalid, as the gateway would refuse it. Exit 1 when invalid.',
    )
    .action(async (file: string, opts: { pathsCaseInsensitive?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await checkRules(file, () => ctx.client().get<CurrentRules>('/api/rules'), { caseInsensitivePaths: opts.pathsCaseInsensitive === true });
      for (const n of r.notes) note(`note: ${n}`);
      if (ctx.json) {
        const { notes: _notes, ...result } = r;
        printResult(true, result, () => []);
      } else {
        printLines([
          ...r.errors.map(formatIssue),
          ...r.warnings.map((w) => `warning: ${formatIssue(w)}`),
          r.valid ? `${r.file}: valid` : `${r.file}: invalid, ${r.errors.length} error${r.errors.length === 1 ? '' : 's'}`,
        ]);
      }
      if (!r.valid) throw new ReportedFailure(`${r.file} is invalid`);
    });

  rules
    .command('import')
    .description('apply a folder of rule files as the new rule set (checked locally first: nothing is sent if it is invalid)')
    .argument('<dir>', 'the rule folder (every *.yaml in it, in name order)')
    .requiredOption('--reason <text>', 'why (kept in the version history and the audit log)', parse.reason)
    .option('--base <version>', 'the version this change starts from (default: the version the export header names, else the current one)', parse.baseVersion)
    .option('--allow-removal', 'apply even though the folder leaves no HTTP rules, no HL7 rules, or no catch-all where the current rules have them (role admin; recorded on the version and in the audit log)')
    .addHelpText(
      'after',
      '\nFiles written by `ficus rules export` name the version they were exported from; the import\nstarts from that version, so if the rules changed since (a flip, a rollback in an incident) it\nis refused (409) with those changes, instead of silently undoing them. To apply the files over\nthe later version anyway, pass --base <current version> (recorded on the version and in the\naudit log). Files without the header start from the current version.',
    )
    .action(async (dir: string, opts: { reason: string; base?: number; allowRemoval?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = ctx.client();
      const served = await client.get<CurrentRules>('/api/rules');
      const allowRemoval = opts.allowRemoval === true;
      // the import goes through the parity gate: what it would say about a canary past it is the gate's to say
      const loaded = await loadRuleDir(dir, { parityGated: true, servingNow: servedRuleSet(served), allowRemoval, tlsFiles: false });
      if (!loaded.ok) {
        const lines = [...loaded.errors.map(formatIssue), ...(loaded.errors.some((e) => e.loss) ? [REMOVAL_NOTE] : [])];
        throw new CliFailure(`the rule folder ${displayName(dir)} is invalid; nothing was sent`, lines, { errors: loaded.errors });
      }
      for (const w of loaded.warnings) note(`warning: ${formatIssue(w)}`);
      // an export is a copy of one version: applied over a later one it would undo what changed since
      const exported = await exportedFrom(loaded.files);
      const baseVersion = opts.base ?? exported ?? served.version;
      const body = { ruleSet: loaded.ruleSet, reason: opts.reason, baseVersion, kind: 'import', ...(allowRemoval ? { allowRemoval } : {}), ...(exported !== undefined ? { exportedFrom: exported } : {}) };
      const r = await client.put<ApplyAnswer>('/api/rules', body).catch((e: unknown) => {
        if (e instanceof ApiFailure && e.status === 409 && opts.base === undefined && exported !== undefined) {
          const current = typeof e.problem.currentVersion === 'number' ? e.problem.currentVersion : 'the current version';
          e.details.splice(-1, 1, `${displayName(dir)} was exported from version ${exported}: importing it would undo those changes. Export version ${current} and make your edit there, or, to undo them on purpose, pass --base ${current}`);
        }
        throw e;
      });
      printResult(ctx.json, r, () =>
        r.changed ? `version ${r.version}: ${r.change.summary} (from version ${baseVersion})` : `no change: ${displayName(dir)} routes as version ${r.version} does`,
      );
    });

  rules
    .command('export')
    .description(`write the current rule set as ${UPSTREAMS_FILE}, ${HTTP_FILE} and (when it has HL7 rules) ${HL7_FILE} into a folder`)
    .argument('<dir>', 'the folder (made if missing); no other file in it is touched')
    .option('--force', 'replace those files even if an export did not write them')
    .action(async (dir: string, opts: { force?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = ctx.client();
      const r = await client.get<CurrentRules>('/api/rules');
      const { written, others } = await writeExport(dir, exportTexts(r, client.conn.url), opts.force === true);
      if (others.length) note(`note: ${displayName(dir)} also holds ${others.join(', ')}: \`ficus rules import\` of the folder reads those too`);
      const files = written.map(displayName);
      const listed = files.length > 1 ? `${files.slice(0, -1).join(', ')} and ${files.at(-1)}` : files.join('');
      printResult(ctx.json, { version: r.version, files }, () => `version ${r.version} written to ${listed}`);
    });
}
