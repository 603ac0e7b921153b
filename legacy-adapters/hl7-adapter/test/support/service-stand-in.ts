/**
 * A new service for tests, on a Redis of its own: the real PartitionedConsumer (as the services
 * consume `hl7.<service>.p<n>`) over the adapter's queues. It applies nothing but records what
 * it took, in order, with every patient a message names; the test decides per message whether
 * it is taken, waits (NotYetError, as a service waits for a patient not known yet, holding its
 * partition) or is given up (a dead letter with the service's HL7 reason, as the services write it).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Redis } from 'ioredis';
import { createLogger, hl7QueuePrefix, type Hl7Job } from '@ficus/contracts';
import { NotYetError, PartitionedConsumer, PermanentError } from '@ficus/contracts/queues';
import { decodeMessage, type Hl7Refusal } from '@ficus/hl7-protocol';
import { startPrivateRedis, type PrivateRedis } from '../../../../scripts/lib/local-services.js';

export interface Taken {
  controlId: string;
  /** PID-3.1 of every PID */
  mrns: string[];
  at: number;
}

export type Decision = 'take' | 'wait' | Hl7Refusal;

export class ServiceStandIn {
  readonly taken: Taken[] = [];
  /** what becomes of a message, asked at each try */
  decide: (controlId: string) => Decision = () => 'take';

  private constructor(
    readonly redis: PrivateRedis,
    private readonly dir: string,
    private readonly connection: Redis,
    private readonly consumers: PartitionedConsumer<Hl7Job>[] = [],
  ) {}

  /** Consumes the queues of these services (one or several), as one stand-in. */
  static async start(services: string | string[], partitions = 8): Promise<ServiceStandIn> {
    const dir = mkdtempSync(path.join(tmpdir(), 'ficus-stand-in-'));
    const redis = await startPrivateRedis(dir, () => undefined);
    const connection = new Redis(redis.url, { maxRetriesPerRequest: null });
    const s = new ServiceStandIn(redis, dir, connection);
    for (const service of typeof services === 'string' ? [services] : services) s.consumers.push(await s.consume(service, partitions));
    return s;
  }

  private consume(service: string, partitions: number): Promise<PartitionedConsumer<Hl7Job>> {
    return PartitionedConsumer.start<Hl7Job>({
      connection: this.connection,
      prefix: hl7QueuePrefix(service),
      partitions,
      retry: { baseMs: 50, maxMs: 200 },
      log: createLogger('stand-in', { level: 'silent' }),
      handle: async (job) => {
        const decoded = decodeMessage(Buffer.from(job.data.raw, 'latin1'));
        if (!decoded.ok) throw new PermanentError(`HL7 ${decoded.error.code}: ${decoded.error.message}`);
        const m = decoded.message;
        const decision = this.decide(m.header.controlId);
        if (decision === 'wait') throw new NotYetError('its patient is not known yet');
        if (decision !== 'take') throw new PermanentError(decision.reason);
        const mrns = Array.from({ length: m.count('PID') }, (_, i) => m.get(`PID[${i + 1}]-3.1`));
        this.taken.push({ controlId: m.header.controlId, mrns, at: Date.now() });
      },
    });
  }

  /** The control ids taken, of those starting with `prefix`, in the order taken. */
  takenOf(prefix: string): string[] {
    return this.taken.filter((t) => t.controlId.startsWith(prefix)).map((t) => t.controlId);
  }

  async close(): Promise<void> {
    await Promise.all(this.consumers.map((c) => c.close()));
    this.connection.disconnect();
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
