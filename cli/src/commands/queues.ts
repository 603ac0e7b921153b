/**
 * `ficus queues dead-letters | replay | replay-all | discard`: the jobs a consuming service (or the legacy
 * writer) gave up on, in the partition queues' dead-letter queues: HL7 messages a service
 * refused (`hl7.<service>.p<n>`, served by the HL7 adapter), change batches a service or the
 * legacy writer could not apply (`cdc.<topic>.p<n>`, `writeback.<service>.p<n>`, served by the
 * CDC deployable). The admin API passes /api/hl7 and /api/cdc through to them.
 */
import { Option, type Command } from 'commander';
import type { QueueDeadLetterAction, QueueDeadLetters, QueueDeadLettersReplayed } from '@ficus/contracts/api';
import { contextOf } from '../context.js';
import { ApiFailure, EXIT_INCOMPLETE, IncompleteResult } from '../failures.js';
import * as parse from '../option-parsers.js';
import { note, printResult, table } from '../output.js';

const CHANNELS = { hl7: '/api/hl7', cdc: '/api/cdc' } as const;
type Channel = keyof typeof CHANNELS;

/** the component that serves a queue's dead letters: the HL7 adapter its `hl7.` queues, the CDC deployable the rest */
const channelOf = (queue: string): Channel => (queue.startsWith('hl7.') ? 'hl7' : 'cdc');

/** a component that did not answer: its queues are not in the listing */
interface Unavailable {
  channel: Channel;
  queues: string;
  status: number;
  title: string;
  detail?: string;
}

const summaryText = (s: Record<string, unknown>) =>
  Object.entries(s)
    .filter(([, v]) => v !== null && v !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join(' ');

export function addQueueCommands(program: Command): void {
  const queues = program.command('queues').description("the new services' queues: jobs a consumer gave up on (dead letters), replay and discard");

  queues
    .command('dead-letters')
    .description('dead letters, newest first: HL7 messages a service refused, change batches a service or the legacy writer could not apply')
    .addOption(new Option('--channel <channel>', 'only the HL7 queues or only the CDC and write-back queues').choices(Object.keys(CHANNELS)))
    .option('--prefix <prefix>', 'only one family of queues (hl7.results-service, cdc.lab-results, writeback.patient-service)')
    .option('--limit <n>', 'how many (1-1000)', parse.integer(1, 1000), 100)
    .addHelpText(
      'after',
      `\nWithout --channel both components are asked. One that does not answer (the HL7 adapter or the\nCDC deployable down or hung) is shown as unavailable, in the table and in --json ("unavailable"),\nwith a note on stderr (one line of JSON with --json), and the exit code is ${EXIT_INCOMPLETE}: its queues\nmay hold dead letters nobody sees. With --channel, a component that does not answer is exit 1.`,
    )
    .action(async (opts: { channel?: Channel; prefix?: string; limit: number }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const channels: Channel[] = opts.channel ? [opts.channel] : opts.prefix ? [channelOf(opts.prefix)] : ['hl7', 'cdc'];
      // asked together: a hung component costs its timeout once, not before the other is asked
      const settled = await Promise.allSettled(channels.map((channel) => ctx.client().get<QueueDeadLetters>(`${CHANNELS[channel]}/queues/dead-letters`, { prefix: opts.prefix, limit: opts.limit })));
      const answers: QueueDeadLetters[] = [];
      const unavailable: Unavailable[] = [];
      for (const [i, s] of settled.entries()) {
        if (s.status === 'fulfilled') {
          answers.push(s.value);
          continue;
        }
        const e: unknown = s.reason;
        // both asked for: the other component's letters are still worth printing, but the listing is not whole
        if (channels.length === 1 || !(e instanceof ApiFailure) || ![502, 503, 504].includes(e.status)) throw e;
        const channel = channels[i]!;
        unavailable.push({ channel, queues: `${channel}.*`, status: e.status, title: e.problem.title ?? e.message, ...(e.problem.detail ? { detail: e.problem.detail } : {}) });
        if (ctx.json) note(JSON.stringify({ type: e.problem.type ?? 'about:blank', title: `${channel}: ${e.problem.title ?? e.message}`, status: e.status, ...(e.problem.detail ? { detail: e.problem.detail } : {}), channel }));
        else note(`${channel}: ${e.message}`);
      }
      const letters = answers.flatMap((a) => a.deadLetters).sort((a, b) => b.failedAt.localeCompare(a.failedAt)).slice(0, opts.limit);
      const counts = answers.flatMap((a) => a.counts);
      const rows = [...counts.map((c) => [`${c.prefix}.p*`, c.count]), ...unavailable.map((u) => [u.queues, `unavailable (${u.title})`])];
      printResult(ctx.json, { counts, deadLetters: letters, ...(unavailable.length > 0 ? { unavailable } : {}) }, () => [
        rows.length === 0 ? 'no queues served' : table(['queues', 'dead letters'], rows),
        '',
        letters.length === 0
          ? unavailable.length > 0
            ? `no dead letters in the queues that answered; ${unavailable.map((u) => u.queues).join(', ')} unavailable`
            : 'no dead letters'
          : table(
              ['queue', 'id', 'failed at', 'attempts', 'error', 'what'],
              letters.map((l) => [l.queue, l.id, l.failedAt, l.attempts, l.error, summaryText(l.summary)]),
            ),
        ...(letters.some((l) => l.replaySafeUntil && Date.parse(l.replaySafeUntil) < Date.now()) ? ['', 'some are past their safe replay time: replay them only with --force, after checking their rows'] : []),
      ]);
      if (unavailable.length > 0) throw new IncompleteResult(`${unavailable.map((u) => u.channel).join(', ')} unavailable`);
    });

  queues
    .command('replay-all <prefix>')
    .description("put every dead job of a family of queues back (hl7.results-service, cdc.lab-results), each partition's in the order they failed")
    .requiredOption('--reason <text>', 'why (kept in the audit log)', parse.reason)
    .option('--max <n>', 'at most this many (1-100000; default 1000)', parse.integer(1, 100_000))
    .option('--force', 'also those past their safe replay time (a row deleted since may come back)')
    .addHelpText('after', '\nExample:\n  ficus queues replay-all hl7.results-service --reason "unit mapping fixed in results-service"')
    .action(async (prefix: string, opts: { reason: string; max?: number; force?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().post<QueueDeadLettersReplayed>(`${CHANNELS[channelOf(prefix)]}/queues/dead-letters/replay-all`, {
        prefix,
        reason: opts.reason,
        ...(opts.max !== undefined ? { max: opts.max } : {}),
        ...(opts.force ? { force: true } : {}),
      });
      printResult(ctx.json, r, () => [
        `replayed ${r.replayed} dead letter${r.replayed === 1 ? '' : 's'} of ${prefix}`,
        ...(r.leftUnsafe ? [`${r.leftUnsafe} left in place: past their safe replay time (check their rows, then --force)`] : []),
        ...(r.remaining ? [`${r.remaining} more beyond --max: run it again`] : []),
      ]);
    });

  for (const what of ['replay', 'discard'] as const) {
    const command = queues
      .command(`${what} <queue> <id>`)
      .description(
        what === 'replay'
          ? 'put a dead job back at the tail of its partition queue; the consumer applies it idempotently (what it already has is skipped)'
          : 'remove a dead letter settled otherwise (fixed by hand, by a re-snapshot); its summary stays in the audit log',
      )
      .requiredOption('--reason <text>', 'why (kept in the audit log)', parse.reason);
    if (what === 'replay') command.option('--force', 'replay also after its safe time (a row deleted since may come back)');
    command
      .addHelpText('after', `\nExample:\n  ficus queues ${what} cdc.lab-results.p3 dead-1742 --reason "${what === 'replay' ? 'unit mapping fixed' : 'row corrected by hand in the service'}"`)
      .action(async (queue: string, id: string, opts: { reason: string; force?: boolean }, cmd: Command) => {
        const ctx = contextOf(cmd);
        const r = await ctx.client().post<QueueDeadLetterAction>(`${CHANNELS[channelOf(queue)]}/queues/dead-letters/${what}`, {
          queue,
          id,
          reason: opts.reason,
          ...(what === 'replay' && opts.force ? { force: true } : {}),
        });
        printResult(ctx.json, r, () => (what === 'replay' ? `replayed ${r.letter.queue} ${r.letter.id} as job ${r.replayedAs}: ${summaryText(r.letter.summary)}` : `discarded ${r.letter.queue} ${r.letter.id}: ${summaryText(r.letter.summary)}`));
      });
  }
}
