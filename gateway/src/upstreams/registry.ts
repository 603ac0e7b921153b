/**
 * The set of upstreams the current rules declare. On a rule change, an upstream whose address
 * and pool settings are unchanged keeps its pool (and its warm connections); a changed or
 * removed one is closed once its in-flight requests are done.
 */
import { isHttpUpstream, resolveUpstream, upstreamUrlOverride, type Logger, type ResolvedUpstream, type RuleSet } from '@ficus/contracts';
import { Upstream } from './upstream.js';

export function resolveUpstreams(ruleSet: RuleSet, env: NodeJS.ProcessEnv): Map<string, ResolvedUpstream> {
  const out = new Map<string, ResolvedUpstream>();
  for (const [name, declared] of Object.entries(ruleSet.upstreams)) {
    if (!isHttpUpstream(declared)) continue; // an HL7 inbound (mllp://) is the HL7 adapter's
    const url = upstreamUrlOverride(name, env) ?? declared.url;
    out.set(name, resolveUpstream({ ...declared, url }));
  }
  return out;
}

export class UpstreamRegistry {
  private upstreams = new Map<string, Upstream>();

  constructor(private readonly log: Logger) {}

  get(name: string): Upstream | undefined {
    return this.upstreams.get(name);
  }

  all(): Upstream[] {
    return [...this.upstreams.values()];
  }

  /** Applies a new set of declarations; returns when replaced pools are closing. */
  apply(declared: Map<string, ResolvedUpstream>): void {
    const next = new Map<string, Upstream>();
    const retired: Upstream[] = [];
    for (const [name, config] of declared) {
      const current = this.upstreams.get(name);
      if (current?.canReuseFor(config)) {
        current.reconfigure(config);
        next.set(name, current);
      } else {
        const created = new Upstream(name, config, this.log);
        created.start();
        next.set(name, created);
        if (current) retired.push(current);
      }
    }
    for (const [name, current] of this.upstreams) if (!declared.has(name)) retired.push(current);
    this.upstreams = next;
    // close() lets in-flight requests finish before the sockets go
    for (const u of retired) void u.close();
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((u) => u.close()));
    this.upstreams.clear();
  }
}
