/**
 * The `ficus` command tree. Commander reports usage errors by throwing (exitOverride), so
 * main.ts can give them exit code 2 instead of commander's 1, which means "refused" here.
 */
import { Command, Option } from 'commander';
import { addAuditCommand } from './commands/audit.js';
import { addParityCommand } from './commands/parity.js';
import { addReconcileCommands } from './commands/reconcile.js';
import { addCdcCommands } from './commands/cdc.js';
import { addConflictCommands } from './commands/conflicts.js';
import { addHl7Commands } from './commands/hl7.js';
import { addQueueCommands } from './commands/queues.js';
import { addRuleFileCommands } from './commands/rule-files.js';
import { addRuleCommands } from './commands/rules.js';
import { addTokenCommands } from './commands/tokens.js';
import { addUpstreamsCommand } from './commands/upstreams.js';
import { addVersionCommands } from './commands/versions.js';

const HELP_FOOTER = `
Environment:
  FICUS_ADMIN_URL  the admin API (default http://127.0.0.1:8081)
  FICUS_TOKEN      the bearer token
  FICUS_CONFIG     the config file (default $XDG_CONFIG_HOME/ficus/config.json or
                   ~/.config/ficus/config.json): { "adminUrl"?: string, "token"?: string }

Exit codes: 0 ok, 1 refused or failed, 2 usage error, 3 \`reconcile\` found differences,
4 \`queues dead-letters\` or \`conflicts list\` printed without a component that did not answer.`;

export function buildProgram(): Command {
  const program = new Command('ficus')
    .description('Ficus admin: read, explain, flip and roll back the routing rules; parity, audit and tokens; the HL7 adapter\'s messages, dead letters and replays; CDC status; the services\' queues and conflicts; reconcile legacy against a new service')
    .version('0.1.0')
    .addOption(new Option('--url <url>', 'the admin API (overrides FICUS_ADMIN_URL and the config file)'))
    .addOption(new Option('--token <token>', 'the bearer token (overrides FICUS_TOKEN and the config file; visible to `ps`, prefer those)'))
    .option('--json', 'print the API\'s JSON instead of tables (failures: the problem object on stderr)')
    .exitOverride()
    .showSuggestionAfterError()
    .showHelpAfterError('(add --help for usage)')
    .configureHelp({ showGlobalOptions: true })
    .addHelpText('after', HELP_FOOTER);

  const rules = program.command('rules').description('the routing rules, their versions and their files');
  addRuleCommands(rules);
  addVersionCommands(rules);
  addRuleFileCommands(rules);
  addParityCommand(program);
  addHl7Commands(program);
  addAuditCommand(program);
  addTokenCommands(program);
  addCdcCommands(program);
  addQueueCommands(program);
  addConflictCommands(program);
  addUpstreamsCommand(program);
  addReconcileCommands(program);
  return program;
}
