/**
 * The connections of the parity lookups to https:// upstreams whose rules name `tls` (the
 * hospital's own CA, a client certificate, a server name): Node's global fetch knows only the
 * public CAs, so a lookup to a service behind the hospital's CA failed its TLS check and every
 * message of the rule counted as a mismatch ("unreachable"). Made again when the rules are
 * applied (a rotated certificate), the old ones closed once their lookups are done.
 */
import { Agent, type Dispatcher } from 'undici';
import { loadUpstreamTls, upstreamUrlOverride, type Logger, type RuleSet } from '@ficus/contracts';

export class HttpsAgents {
  private agents = new Map<string, { agent: Agent; fingerprint: string }>();

  constructor(private readonly log: Logger) {}

  apply(ruleSet: RuleSet, env: NodeJS.ProcessEnv): void {
    const next = new Map<string, { agent: Agent; fingerprint: string }>();
    for (const [name, u] of Object.entries(ruleSet.upstreams)) {
      if (!u.tls || !/^https:/i.test(upstreamUrlOverride(name, env) ?? u.url)) continue;
      const material = loadUpstreamTls(u.tls, env)!;
      const kept = this.agents.get(name);
      if (kept?.fingerprint === material.fingerprint) {
        next.set(name, kept);
        continue;
      }
      const { ca, cert, key, passphrase, servername } = material;
      next.set(name, { agent: new Agent({ connect: { ca, cert, key, passphrase, servername } }), fingerprint: material.fingerprint });
    }
    const old = this.agents;
    this.agents = next;
    for (const [name, { agent }] of old) {
      if (next.get(name)?.agent !== agent) agent.close().catch((e: Error) => this.log.warn({ upstream: name, err: e.message }, 'parity lookup connections not closed'));
    }
  }

  /** undefined: the default (public CAs, or plain http) */
  for(upstream: string): Dispatcher | undefined {
    return this.agents.get(upstream)?.agent;
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map(({ agent }) => agent.close()));
    this.agents.clear();
  }
}
