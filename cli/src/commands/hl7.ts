/**
 * `ficus hl7 messages | show | rejects | dead-letters | replay | stats`: the HL7 adapter's messages,
 * their deliveries and dead letters, replays, and the counts a dashboard shows, over the admin
 * API (which passes /api/hl7 through to the adapter). Listings carry header fields only; the
 * message itself (patient data) takes `show --raw` and the operator role, and is on the record.
 */
import { Option, type Command } from 'commander';
import { InvalidArgumentError } from 'commander';
import type { Hl7DeadLetter, Hl7Delivery, Hl7MessageInfo, Hl7ReplayAnswer, Hl7Stats } from '../api-types.js';
import { contextOf } from '../context.js';
import { addHl7RejectsCommand } from './hl7-rejects.js';
import { CliFailure, UsageFailure } from '../failures.js';
import * as parse from '../option-parsers.js';
import { fields, printLines, printResult, table } from '../output.js';

const DELIVERY_STATES = ['pending', 'delivered', 'dead'] as const;

/** MSH-9.1 / MSH-9.2 values: three letters or digits, upper-cased */
function code(what: string) {
  return (value: string): string => {
    const v = value.trim().toUpperCase();
    if (!/^[A-Z0-9]{3}$/.test(v)) throw new InvalidArgumentError(`"${value}" is not a ${what} (three letters or digits, as ${what === 'message type' ? 'ADT' : 'A01'})`);
    return v;
  };
}

function target(value: string): string {
  if (!/^(legacy|queue):[a-z0-9][a-z0-9-]{0,62}$/.test(value)) throw new InvalidArgumentError(`"${value}" is not a target: legacy:<upstream> or queue:<service> (legacy:legacy-hl7, queue:patient-service)`);
  return value;
}

/** a queue delivery's job the service gave up on is `delivered` for the adapter, and said so; a pending one that waits, held (`show` says why) */
const statusOf = (d: Hl7Delivery) => (d.gaveUp ? `${d.status}, service gave up` : d.held ? `${d.status} (held)` : d.status);

const deliverySummary = (ds: Hl7Delivery[]) => ds.map((d) => `${d.target} ${statusOf(d)}${d.replay ? ' (replay)' : ''}`).join('; ');

/** a message the emergency override file sent to legacy says so, as the gateway's x-ficus-route does */
const modeOf = (m: Hl7MessageInfo) => (m.emergency ? `${m.mode} (emergency)` : m.mode);

/** The message as the adapter decoded it (its charset), segments one per line. */
function messageText(m: Hl7MessageInfo): string {
  return (m.text ?? '').replace(/\r\n|\r|\n/g, '\n').trimEnd();
}

interface MessagesOptions {
  type?: string;
  trigger?: string;
  controlId?: string;
  facility?: string;
  delivery?: string;
  since?: string;
  until?: string;
  beforeId?: number;
  limit: number;
}

interface ReplayOptions {
  message?: number;
  from?: string;
  to?: string;
  type?: string;
  trigger?: string;
  target?: string;
  reason: string;
  max?: number;
}

/** MSH-3 @ MSH-4, saying which is empty rather than printing a dangling "@" */
function senderOf(application: string | null | undefined, facility: string | null | undefined): string {
  if (application && facility) return `${application} @ ${facility}`;
  if (application) return `${application} (no facility: MSH-4 empty)`;
  if (facility) return `(no application: MSH-3 empty) @ ${facility}`;
  return '- (MSH-3 and MSH-4 empty)';
}

export function addHl7Commands(program: Command): void {
  const hl7 = program.command('hl7').description("the HL7 adapter: messages received, deliveries, dead letters, replay (through the admin API's /api/hl7)");

  hl7
    .command('messages')
    .description('messages received, newest first (header fields and deliveries; never the message itself)')
    .option('--type <type>', 'message type, MSH-9.1 (ADT, ORU, ...)', code('message type'))
    .option('--trigger <event>', 'trigger event, MSH-9.2 (A01, R01, ...)', code('trigger event'))
    .option('--control-id <id>', 'message control id, MSH-10, or as the adapter logs it (sha256:… or hmac:…)')
    .option('--facility <facility>', 'sending facility, MSH-4.1')
    .addOption(new Option('--delivery <state>', 'only messages with a delivery in this state').choices(DELIVERY_STATES))
    .option('--since <time>', 'received at or after: ISO 8601, or an age such as 30m, 2h, 7d', (v) => parse.instant(v))
    .option('--until <time>', 'received before: ISO 8601, or an age', (v) => parse.instant(v))
    .option('--limit <n>', 'how many (1-1000)', parse.integer(1, 1000), 100)
    .option('--before-id <id>', 'the next page: messages stored before this id (the last page ends with it)', parse.integer(1))
    .action(async (opts: MessagesOptions, cmd: Command) => {
      const ctx = contextOf(cmd);
      const { type, trigger, controlId, facility, delivery, since, until, beforeId, limit } = opts;
      const r = await ctx.client().get<{ messages: Hl7MessageInfo[]; nextBeforeId?: number | null; serviceDeadLetters?: string }>('/api/hl7/messages', { type, trigger, controlId, facility, delivery, since, until, beforeId, limit });
      printResult(ctx.json, r, () =>
        r.messages.length === 0
          ? 'no HL7 messages match'
          : table(
              ['id', 'received', 'type', 'control id', 'facility', 'rule', 'mode', 'ack', 'deliveries'],
              r.messages.map((m) => [m.id, m.receivedAt, `${m.type}^${m.trigger}`, m.controlId, m.sendingFacility, m.ruleId, modeOf(m), m.ackCode, deliverySummary(m.deliveries)]),
            ) + (r.nextBeforeId ? `\nmore: --before-id ${r.nextBeforeId}` : '') + (r.serviceDeadLetters ? `\nnote: ${r.serviceDeadLetters}` : ''),
      );
    });

  hl7
    .command('show')
    .description('one message: its header fields and every delivery; with --raw the message itself (operator role; the viewing is audited)')
    .argument('<id>', 'the message id (see `ficus hl7 messages`)', parse.integer(1))
    .option('--raw', 'also print the message itself: it holds patient data')
    .action(async (id: number, opts: { raw?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const m = await ctx.client().get<Hl7MessageInfo>(`/api/hl7/messages/${id}`, { raw: opts.raw ? 'true' : undefined });
      printResult(ctx.json, m, () => [
        ...fields([
          ['id', m.id],
          ['received', m.receivedAt],
          ['type', `${m.type}^${m.trigger}`],
          ['control id', m.controlId],
          ['sender', senderOf(m.sendingApplication, m.sendingFacility)],
          ['rule', `${m.ruleId} (${m.mode}${m.emergency ? ', emergency' : ''})`],
          ['ack', m.ackCode],
        ]),
        '',
        table(
          ['delivery', 'target', 'status', 'attempts', 'delivered', 'answer / last error / why held'],
          m.deliveries.map((d) => [`${d.id}${d.replay ? ' (replay)' : ''}`, d.target, statusOf(d), d.attempts, d.deliveredAt, d.gaveUp?.error ?? d.held ?? d.answer ?? d.lastError]),
        ),
        ...(m.serviceDeadLetters ? ['', `note: ${m.serviceDeadLetters}`] : []),
        ...(opts.raw ? ['', messageText(m)] : []),
      ]);
    });

  addHl7RejectsCommand(hl7);

  hl7
    .command('dead-letters')
    .description('deliveries their target refused (AE/AR from legacy), newest first; resolved ones (delivered by a later replay) with --all')
    .option('--target <target>', 'only this target: legacy:<upstream> or queue:<service>', target)
    .option('--all', 'include dead letters a replay has since delivered')
    .option('--limit <n>', 'how many (1-1000)', parse.integer(1, 1000), 100)
    .action(async (opts: { target?: string; all?: boolean; limit: number }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<{ deadLetters: Hl7DeadLetter[] }>('/api/hl7/dead-letters', { target: opts.target, all: opts.all ? 'true' : undefined, limit: opts.limit });
      printResult(ctx.json, r, () =>
        r.deadLetters.length === 0
          ? 'no dead letters'
          : table(
              ['delivery', 'message', 'at', 'target', 'type', 'control id', 'attempts', 'answer', 'resolved by'],
              r.deadLetters.map((d) => [d.deliveryId, d.messageId, d.at, d.target, `${d.type}^${d.trigger}`, d.controlId, d.attempts, d.answer, d.resolvedBy]),
            ),
      );
    });

  hl7
    .command('replay')
    .description('deliver stored messages again: one (--message), or those received in a time range (--from and --to); to the targets each went to, or to --target')
    .option('--message <id>', 'one message, by id', parse.integer(1))
    .option('--from <time>', 'received at or after: ISO 8601, or an age such as 2h', (v) => parse.instant(v))
    .option('--to <time>', 'received before: ISO 8601, or an age', (v) => parse.instant(v))
    .option('--type <type>', 'only this message type (MSH-9.1)', code('message type'))
    .option('--trigger <event>', 'only this trigger event (MSH-9.2)', code('trigger event'))
    .option('--target <target>', 'deliver to this target only (legacy:<upstream> or queue:<service>); a new service can catch up this way', target)
    .option('--max <n>', 'at most this many messages (1-100000; default 10000)', parse.integer(1, 100_000))
    .requiredOption('--reason <text>', 'why (kept in the audit log and on each replayed delivery)', parse.reason)
    .addHelpText('after', '\nExamples:\n  ficus hl7 replay --message 4711 --reason "legacy lost it"\n  ficus hl7 replay --from 2026-11-25T08:00Z --to 2026-11-25T09:00Z --type ADT --target queue:patient-service --reason "backfill"')
    .action(async (opts: ReplayOptions, cmd: Command) => {
      const byMessage = opts.message !== undefined;
      const byRange = opts.from !== undefined || opts.to !== undefined;
      if (byMessage === byRange) throw new UsageFailure('give either --message <id>, or --from <time> and --to <time>');
      if (byRange && (opts.from === undefined || opts.to === undefined)) throw new UsageFailure('a time range needs both --from and --to');
      if (byRange && Date.parse(opts.from!) >= Date.parse(opts.to!)) throw new UsageFailure('--from must be before --to');
      const ctx = contextOf(cmd);
      const body = { messageId: opts.message, from: opts.from, to: opts.to, type: opts.type, trigger: opts.trigger, target: opts.target, reason: opts.reason, max: opts.max };
      const r = await ctx.client().post<Hl7ReplayAnswer>('/api/hl7/replay', body);
      // a message named by id that is not there is a failed command (as `hl7 show` of it is); an empty time range is an answer
      if (byMessage && r.messages === 0) {
        const filters = opts.type !== undefined || opts.trigger !== undefined;
        throw new CliFailure(`no stored message ${opts.message}${filters ? ' of that --type/--trigger' : ''}: nothing replayed`, ['`ficus hl7 messages` lists the stored messages and their ids'], { messages: 0, deliveries: 0 });
      }
      printResult(ctx.json, r, () =>
        r.messages === 0 ? 'no stored message in that time range matches: nothing replayed' : `replayed ${r.messages} message${r.messages === 1 ? '' : 's'}: ${r.deliveries} deliver${r.deliveries === 1 ? 'y' : 'ies'} added (${opts.target ?? 'their own targets'})`,
      );
    });

  hl7
    .command('stats')
    .description('counts since a time (default: the last hour): messages by type, ACKs by code, refusals, deliveries per target')
    .option('--since <time>', 'ISO 8601, or an age such as 30m, 2h, 7d', (v) => parse.instant(v))
    .action(async (opts: { since?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const r = await ctx.client().get<Hl7Stats>('/api/hl7/stats', { since: opts.since });
      if (ctx.json) {
        printResult(true, r, () => '');
        return;
      }
      printLines([
        `since ${r.since}`,
        '',
        r.messages.length ? table(['type', 'event', 'messages'], r.messages.map((m) => [m.type, m.trigger, m.count])) : 'no messages stored',
        '',
        r.acks.length ? table(['ack', 'sent'], r.acks.map((a) => [a.code, a.count])) : 'no ACKs sent',
        `refused: ${r.rejected}`,
        '',
        // gave up: jobs the service dead-lettered after the queue took them (delivered, for the adapter)
        table(['target', 'pending', 'dead', 'delivered', 'service gave up'], r.deliveries.map((d) => [d.target, d.pending, d.dead, d.delivered, d.gaveUp])),
      ]);
    });
}
