/**
 * Checks of how the objects fit together: Services to pods, references to ConfigMaps and
 * Secrets, variable names to the deployables' configuration schemas, images and environment to
 * docker-compose.yml, secrets kept out of ConfigMaps, URLs to Services. Each answers a list of
 * problems (empty: fine).
 */
import { loadConfig } from '@ficus/contracts';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { configMapData, containerEnv, find, resolvePort, secretData, selects, workloads, type KObject } from './objects.js';
import { compose, deployableOf, readsVariable } from './deployables.js';

interface ServiceSpec {
  type?: string;
  selector?: Record<string, string>;
  ports?: { name?: string; port: number; targetPort?: number | string }[];
}

/** every Service selects some workload's pods, and each of its target ports is a port of them */
export function serviceProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const s of objects.filter((o) => o.kind === 'Service')) {
    const spec = s.spec as ServiceSpec;
    const where = `Service/${s.metadata.name}`;
    const targets = workloads(objects).filter((w) => selects(spec.selector, w.podLabels));
    if (!targets.length) {
      problems.push(`${where}: its selector ${JSON.stringify(spec.selector)} matches no pods`);
      continue;
    }
    for (const p of spec.ports ?? []) {
      const target = p.targetPort ?? p.port;
      for (const w of targets) {
        if (!w.pod.containers.some((c) => resolvePort(c, target) !== undefined)) problems.push(`${where}: targetPort ${target} is no container port of ${w.kind}/${w.name}`);
      }
    }
  }
  return problems;
}

interface Ref {
  kind: 'ConfigMap' | 'Secret';
  name: string;
  key?: string;
  optional: boolean;
  where: string;
}

function references(pod: IPodSpec, where: string): Ref[] {
  const refs: Ref[] = [];
  const containers: IContainer[] = [...pod.containers, ...(pod.initContainers ?? [])];
  for (const c of containers) {
    const at = `${where} container ${c.name}`;
    for (const f of c.envFrom ?? []) {
      if (f.configMapRef) refs.push({ kind: 'ConfigMap', name: f.configMapRef.name ?? '', optional: !!f.configMapRef.optional, where: at });
      if (f.secretRef) refs.push({ kind: 'Secret', name: f.secretRef.name ?? '', optional: !!f.secretRef.optional, where: at });
    }
    for (const e of c.env ?? []) {
      const s = e.valueFrom?.secretKeyRef;
      const m = e.valueFrom?.configMapKeyRef;
      if (s) refs.push({ kind: 'Secret', name: s.name ?? '', key: s.key, optional: !!s.optional, where: `${at} env ${e.name}` });
      if (m) refs.push({ kind: 'ConfigMap', name: m.name ?? '', key: m.key, optional: !!m.optional, where: `${at} env ${e.name}` });
    }
  }
  for (const v of pod.volumes ?? []) {
    if (v.configMap) refs.push({ kind: 'ConfigMap', name: v.configMap.name ?? '', optional: !!v.configMap.optional, where: `${where} volume ${v.name}` });
    if (v.secret) refs.push({ kind: 'Secret', name: v.secret.secretName ?? '', optional: !!v.secret.optional, where: `${where} volume ${v.name}` });
  }
  return refs;
}

/**
 * Every reference to a ConfigMap or Secret (and to a key of it) names one that is defined.
 * `externalSecrets`: Secrets left to whoever applies the manifests (the base's); a reference to
 * one of them that is missing is answered in `external`, not as a problem.
 */
export function referenceProblems(objects: KObject[], externalSecrets = false): { problems: string[]; external: Set<string> } {
  const problems: string[] = [];
  const external = new Set<string>();
  for (const w of workloads(objects)) {
    for (const r of references(w.pod, `${w.kind}/${w.name}`)) {
      const data = r.kind === 'ConfigMap' ? configMapData(objects, r.name) : secretData(objects, r.name);
      if (!data) {
        if (r.kind === 'Secret' && externalSecrets) external.add(r.name);
        else if (!r.optional) problems.push(`${r.where}: ${r.kind} ${r.name} is not defined`);
      } else if (r.key !== undefined && !(r.key in data) && !r.optional) problems.push(`${r.where}: ${r.kind} ${r.name} has no key ${r.key}`);
    }
  }
  return { problems, external };
}

/** every variable a Ficus container gets is one its configuration reads */
export function envNameProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      const d = deployableOf(c.image);
      if (!d) continue;
      for (const name of containerEnv(objects, c).keys()) {
        if (!readsVariable(d, name)) problems.push(`${w.kind}/${w.name} container ${c.name}: ${d.name} reads no variable ${name}`);
      }
    }
  }
  return problems;
}

/** the values a Ficus container gets pass its own configuration loader (types, enums, ranges) */
export function configValueProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      const d = deployableOf(c.image);
      if (!d) continue;
      // a value from a Secret the render does not hold (the base's) is left to the default
      const env = Object.fromEntries([...containerEnv(objects, c)].filter((e): e is [string, string] => e[1] !== undefined));
      try {
        loadConfig(d.schema, { ...d.imageEnv, ...env });
      } catch (e) {
        problems.push(`${w.kind}/${w.name} container ${c.name}: ${(e as Error).message}`);
      }
    }
  }
  return problems;
}

/**
 * The images are docker-compose.yml's: a Ficus container runs the image compose builds for the
 * service of its name and gets every variable compose sets for it; any other container runs an
 * image compose runs too.
 */
export function composeProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  const composeImages = new Set(Object.values(compose.services).map((s) => s.image));
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      const where = `${w.kind}/${w.name} container ${c.name}`;
      if (!composeImages.has(c.image)) problems.push(`${where}: image ${c.image} is not one docker-compose.yml runs`);
      const svc = compose.services[c.name];
      const d = deployableOf(c.image);
      if (!d) continue;
      if (!svc || svc.image !== c.image || d.name !== c.name) {
        problems.push(`${where}: docker-compose.yml's ${c.name} runs ${svc?.image}, not ${c.image}`);
        continue;
      }
      const env = containerEnv(objects, c);
      for (const name of Object.keys(svc.environment ?? {})) if (!env.has(name)) problems.push(`${where}: docker-compose.yml sets ${name}, the manifest does not`);
    }
  }
  return problems;
}

const SECRET_NAME = /(_TOKEN|_PASSWORD|_SECRET|_KEY)$/;
const URL_WITH_PASSWORD = /^[a-z][a-z0-9+.-]*:\/\/[^/@:]*:[^/@]+@/i;
const SECRET_TEXT = /password=/i;

/** no token, password or URL with a password in a ConfigMap or a literal env value: those belong in Secrets */
export function secretHygieneProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  const secretLike = (name: string, value: string | undefined) => SECRET_NAME.test(name) || (value !== undefined && (URL_WITH_PASSWORD.test(value) || SECRET_TEXT.test(value)));
  for (const cm of objects.filter((o) => o.kind === 'ConfigMap')) {
    for (const [k, v] of Object.entries((cm.data ?? {}) as Record<string, string>)) if (secretLike(k, v)) problems.push(`ConfigMap/${cm.metadata.name}: ${k} looks secret`);
  }
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      for (const e of c.env ?? []) if (e.value !== undefined && secretLike(e.name, e.value)) problems.push(`${w.kind}/${w.name} container ${c.name}: ${e.name} has a literal value that looks secret`);
    }
  }
  return problems;
}

/** the variables holding the public FHIR base, per deployable: an address outside the cluster, by design */
export const PUBLIC_FHIR_BASE: Record<string, string[]> = {
  'patient-service': ['FHIR_BASE_URL'],
  'results-service': ['FHIR_BASE_URL', 'PATIENT_SERVICE_FHIR_BASE_URL'],
};

/** every in-cluster URL a container is given (ConfigMaps and Secrets alike) names a Service and one of its ports */
export function urlProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      const publicNames = PUBLIC_FHIR_BASE[deployableOf(c.image)?.name ?? ''] ?? [];
      for (const [name, value] of containerEnv(objects, c)) {
        if (publicNames.includes(name)) continue;
        const m = /^[a-z]+:\/\/(?:[^@/]*@)?([a-z0-9-]+)(?::(\d+))?(?:[/?]|$)/.exec(value ?? '');
        if (!m) continue;
        const svc = find(objects, 'Service', m[1]!);
        const ports = ((svc?.spec as ServiceSpec | undefined)?.ports ?? []).map((p) => p.port);
        if (!svc) problems.push(`${w.kind}/${w.name} ${name}: no Service ${m[1]}`);
        else if (m[2] && !ports.includes(Number(m[2]))) problems.push(`${w.kind}/${w.name} ${name}: Service ${m[1]} has no port ${m[2]}`);
      }
    }
  }
  return problems;
}

/**
 * The FHIR base the services start Bundle links with, and results-service the absolute Patient
 * and Encounter references of its results, is one address a client outside the cluster can
 * follow: given to both services (all three variables), the same value everywhere, an absolute
 * http(s) URL of the gateway's /fhir, naming no Service of the cluster (results referred to
 * http://patient-service:8101/fhir/Patient/…, a name only the cluster resolves).
 */
export function publicFhirBaseProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  const services = new Set(objects.filter((o) => o.kind === 'Service').map((o) => o.metadata.name));
  const values = new Set<string>();
  for (const w of workloads(objects)) {
    for (const c of w.pod.containers) {
      const env = containerEnv(objects, c);
      for (const name of PUBLIC_FHIR_BASE[deployableOf(c.image)?.name ?? ''] ?? []) {
        const where = `${w.kind}/${w.name} ${name}`;
        const value = env.get(name);
        if (value === undefined) {
          problems.push(`${where}: not set (the public FHIR base: the gateway's /fhir as clients reach it)`);
          continue;
        }
        values.add(value);
        let url: URL;
        try {
          url = new URL(value);
        } catch {
          problems.push(`${where}: ${value} is no absolute URL`);
          continue;
        }
        if (!/^https?:$/.test(url.protocol) || url.pathname !== '/fhir' || url.search || url.hash) problems.push(`${where}: ${value} is not an http(s) URL of a /fhir base`);
        if (services.has(url.hostname.split('.')[0]!) && (!url.hostname.includes('.') || /\.svc(\.|$)/.test(url.hostname))) {
          problems.push(`${where}: ${value} names Service ${url.hostname.split('.')[0]}, which clients outside the cluster cannot reach`);
        }
      }
    }
  }
  if (values.size > 1) problems.push(`the public FHIR base differs between variables: ${[...values].join(', ')}`);
  return problems;
}
