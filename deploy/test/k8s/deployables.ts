/**
 * What the manifests are checked against, taken from the code and files that define it rather
 * than written out again: each deployable's configuration schema (the variables it reads, their
 * defaults), its Dockerfile's ENV, docker-compose.yml (images, published ports, environment) and
 * the upstreams of the routing rules (FICUS_UPSTREAM_<NAME>_URL overrides).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { TObject } from '@sinclair/typebox';
import { loadRuleDir, upstreamUrlOverride } from '@ficus/contracts/rules';
import { parse } from 'yaml';
import { envOf, imageInstructions, type Build } from '../support/dockerfile.js';
import { GatewayConfigSchema } from '../../../gateway/src/config.js';
import { shutdownBoundMs as gatewayShutdownBoundMs } from '../../../gateway/src/ops/shutdown.js';
import { AdapterConfigSchema } from '../../../legacy-adapters/hl7-adapter/src/config.js';
import { CdcConfigSchema } from '../../../legacy-adapters/cdc/src/config.js';
import { PatientServiceConfigSchema } from '../../../extracted-services/patient-service/src/config.js';
import { ResultsServiceConfigSchema } from '../../../extracted-services/results-service/src/config.js';
import { LegacyHisConfigSchema } from '../../../examples/legacy-his/src/config.js';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const K8S = path.join(ROOT, 'deploy/k8s');

export interface ComposeService {
  image?: string;
  build?: Build;
  environment?: Record<string, string>;
  ports?: string[];
  init?: boolean;
  stop_grace_period?: string;
}

export const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, ComposeService> };

export interface Deployable {
  /** the container's (and compose service's) name */
  name: string;
  schema: TObject;
  /** the variable holding the port of /healthz and /readyz */
  healthPortVar: string;
  /** reads FICUS_UPSTREAM_<NAME>_URL for the rules' upstreams (gateway/src/upstreams/registry.ts, hl7-adapter/src/adapter.ts) */
  readsUpstreamOverrides: boolean;
  /** the variable of its shutdown timeout */
  shutdownVar: string;
  /** how long after SIGTERM the process exits at the latest, from that timeout: what a grace period must exceed */
  shutdownBoundMs: (timeoutMs: number) => number;
  compose: ComposeService;
  /** the ENV of the image's last stage */
  imageEnv: Record<string, string>;
}

// the bounds as each entry point sets runDeployable's shutdownTimeoutMs
const asIs = (ms: number) => ms;
/** extracted-services/service-kit/src/runtime/run-service.ts: the timeout plus 2 s */
const servicesBound = (ms: number) => ms + 2_000;
/** examples/legacy-his: no bound in its entry point; its close cuts connections at the timeout, then ends its pool */
const legacyHisBound = (ms: number) => ms + 2_000;

const DEFINITIONS: Omit<Deployable, 'compose' | 'imageEnv'>[] = [
  { name: 'gateway', schema: GatewayConfigSchema, healthPortVar: 'FICUS_GATEWAY_PORT', readsUpstreamOverrides: true, shutdownVar: 'FICUS_SHUTDOWN_TIMEOUT_MS', shutdownBoundMs: (ms) => gatewayShutdownBoundMs({ FICUS_SHUTDOWN_TIMEOUT_MS: ms }) },
  { name: 'hl7-adapter', schema: AdapterConfigSchema, healthPortVar: 'HL7_API_PORT', readsUpstreamOverrides: true, shutdownVar: 'FICUS_SHUTDOWN_TIMEOUT_MS', shutdownBoundMs: asIs },
  { name: 'cdc', schema: CdcConfigSchema, healthPortVar: 'CDC_API_PORT', readsUpstreamOverrides: false, shutdownVar: 'FICUS_SHUTDOWN_TIMEOUT_MS', shutdownBoundMs: asIs },
  { name: 'patient-service', schema: PatientServiceConfigSchema, healthPortVar: 'PATIENT_SERVICE_PORT', readsUpstreamOverrides: false, shutdownVar: 'SERVICE_SHUTDOWN_TIMEOUT_MS', shutdownBoundMs: servicesBound },
  { name: 'results-service', schema: ResultsServiceConfigSchema, healthPortVar: 'RESULTS_SERVICE_PORT', readsUpstreamOverrides: false, shutdownVar: 'SERVICE_SHUTDOWN_TIMEOUT_MS', shutdownBoundMs: servicesBound },
  { name: 'legacy-his', schema: LegacyHisConfigSchema, healthPortVar: 'LEGACY_HIS_PORT', readsUpstreamOverrides: false, shutdownVar: 'LEGACY_HIS_SHUTDOWN_TIMEOUT_MS', shutdownBoundMs: legacyHisBound },
];

/** the shutdown bound in seconds of a deployable run with this environment */
export function shutdownBoundS(d: Deployable, env: Map<string, string | undefined>): number {
  return d.shutdownBoundMs(Number(effective(d, env, d.shutdownVar))) / 1000;
}

export const DEPLOYABLES: Deployable[] = DEFINITIONS.map((d) => {
  const svc = compose.services[d.name];
  if (!svc?.build) throw new Error(`docker-compose.yml builds no service ${d.name}`);
  return { ...d, compose: svc, imageEnv: envOf(imageInstructions(path.join(ROOT, svc.build.context, svc.build.dockerfile), svc.build.target)) };
});

export const deployableOf = (image: string | undefined) => DEPLOYABLES.find((d) => d.compose.image === image || image?.split(':')[0] === d.compose.image?.split(':')[0]);

/** the value a deployable runs with: the manifest's, else the image's ENV, else the schema's default */
export function effective(d: Deployable, env: Map<string, string | undefined>, name: string): string | undefined {
  if (env.has(name)) return env.get(name);
  if (name in d.imageEnv) return d.imageEnv[name];
  const dflt = (d.schema.properties[name] as { default?: unknown } | undefined)?.default;
  return dflt === undefined ? undefined : String(dflt);
}

const ruleDir = await loadRuleDir(path.join(ROOT, 'routing-rules'));
if (!ruleDir.ok) throw new Error('routing-rules/ does not load');
export const UPSTREAMS = Object.keys(ruleDir.ruleSet.upstreams);

/** is `name` a variable this deployable reads? */
export function readsVariable(d: Deployable, name: string): boolean {
  if (name in d.schema.properties) return true;
  // the override names are the ones upstreamUrlOverride itself looks up
  return d.readsUpstreamOverrides && UPSTREAMS.some((u) => upstreamUrlOverride(u, { [name]: 'x' }) === 'x');
}
