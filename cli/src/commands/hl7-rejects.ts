/**
 * `ficus hl7 rejects [id]`: the frames the HL7 adapter refused at intake (AR/CR) and why, for
 * the sending system's analyst. The listing carries header fields only; the frame itself
 * (patient data) takes an id, `--raw` and the operator role, and is on the record.
 */
import type { Command } from 'commander';
import type { Hl7RejectInfo } from '../api-types.js';
import { contextOf } from '../context.js';
import { UsageFailure } from '../failures.js';
import * as parse from '../option-parsers.js';
import { fields, printResult, table } from '../output.js';

interface RejectsOptions {
  since?: string;
  until?: string;
  application?: string;
  facility?: string;
  peer?: string;
  controlId?: string;
  beforeId?: number;
  limit: number;
  raw?: boolean;
}

/** The frame as received, segments one per line. */
const frameText = (r: Hl7RejectInfo) => (r.raw ?? '').replace(/\r\n|\r|\n/g, '\n').trimEnd();

export function addHl7RejectsCommand(hl7: Command): void {
  hl7
    .command('rejects')
    .description('frames refused at intake (answered AR/CR: a bad MSH, a processing id not served, a batch count that disagrees ...), newest first, with why; one by id, and with --raw the frame itself (operator role; the viewing is audited)')
    .argument('[id]', 'one refused frame, by id', parse.integer(1))
    .option('--since <time>', 'refused at or after: ISO 8601, or an age such as 30m, 2h, 7d', (v) => parse.instant(v))
    .option('--until <time>', 'refused before: ISO 8601, or an age', (v) => parse.instant(v))
    .option('--application <app>', 'sending application, MSH-3.1')
    .option('--facility <facility>', 'sending facility, MSH-4.1')
    .option('--peer <address>', 'the connection it came on (address:port)')
    .option('--control-id <id>', 'message control id, MSH-10, as sent')
    .option('--limit <n>', 'how many (1-1000)', parse.integer(1, 1000), 100)
    .option('--before-id <id>', 'the next page: frames refused before this id', parse.integer(1))
    .option('--raw', 'with an id: also print the frame itself (it holds patient data)')
    .action(async (id: number | undefined, opts: RejectsOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      if (id !== undefined) {
        const r = await ctx.client().get<Hl7RejectInfo>(`/api/hl7/rejects/${id}`, { raw: opts.raw ? 'true' : undefined });
        printResult(ctx.json, r, () => [
          ...fields([
            ['id', r.id],
            ['received', r.receivedAt],
            ['peer', r.peer],
            ['sender', `${r.sendingApplication ?? '?'} @ ${r.sendingFacility ?? '?'}`],
            ['control id', r.controlId],
            ['error', `${r.errorCode} ${r.error}`],
            ['bytes', r.bytes],
          ]),
          ...(opts.raw ? ['', frameText(r)] : []),
        ]);
        return;
      }
      if (opts.raw) throw new UsageFailure('--raw shows one refused frame: give its id (`ficus hl7 rejects 42 --raw`)');
      const { since, until, application, facility, peer, controlId, beforeId, limit } = opts;
      const r = await ctx.client().get<{ rejects: Hl7RejectInfo[]; nextBeforeId: number | null }>('/api/hl7/rejects', { since, until, application, facility, peer, controlId, beforeId, limit });
      printResult(ctx.json, r, () =>
        r.rejects.length === 0
          ? 'no refused frames match'
          : table(
              ['id', 'received', 'application', 'facility', 'control id', 'peer', 'error'],
              r.rejects.map((x) => [x.id, x.receivedAt, x.sendingApplication, x.sendingFacility, x.controlId, x.peer, `${x.errorCode} ${x.error}`]),
            ) + (r.nextBeforeId ? `\nmore: --before-id ${r.nextBeforeId}` : ''),
      );
    });
}
