/**
 * Entry point of `ficus` (started by bin/ficus.js): runs the command and turns how it ended
 * into the exit code: 0 ok, 1 refused or failed, 2 usage error, 3 differences found (reconcile),
 * 4 a listing printed without a component that did not answer (queues dead-letters).
 */
import { CommanderError } from 'commander';
import { CliFailure, EXIT_FAILED, EXIT_OK, EXIT_USAGE, ReportedFailure } from './failures.js';
import { printFailure } from './output.js';
import { buildProgram } from './program.js';

// commander's own "exits" that are not errors
const CLEAN_EXITS = new Set(['commander.helpDisplayed', 'commander.version']);

async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return EXIT_OK;
  } catch (e) {
    // commander has printed its message already (unknown command, missing option, ...)
    if (e instanceof CommanderError) return CLEAN_EXITS.has(e.code) ? EXIT_OK : EXIT_USAGE;
    const json = program.opts<{ json?: boolean }>().json === true;
    if (e instanceof ReportedFailure) return e.exitCode;
    if (e instanceof CliFailure) {
      printFailure(json, e);
      return e.exitCode;
    }
    printFailure(json, new CliFailure(`unexpected error: ${(e as Error).message}`, process.env.FICUS_DEBUG ? [(e as Error).stack ?? ''] : ['set FICUS_DEBUG=1 for the stack']));
    return EXIT_FAILED;
  }
}

process.exitCode = await run(process.argv.slice(2));
