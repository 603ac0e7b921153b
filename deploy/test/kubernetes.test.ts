/**
 * The Kubernetes manifests (deploy/k8s) cannot be applied here (no cluster), so they are
 * rendered as `kubectl apply -k` would render them (kubectl kustomize; without kubectl, the
 * small fallback renderer) and checked: every object against the Kubernetes schemas
 * (kubernetes-models), and what a cluster would only show at run time: probes on the ports the
 * configuration serves, Services that reach pods, references that resolve, variables the
 * deployables read, docker-compose.yml's images and environment, secrets in Secrets.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cdcProblems, emergencyProblems, gatewayProblems, portProblems, probeProblems, schemaProblems, securityProblems, statefulSetProblems, terminationProblems } from './k8s/checks-workloads.js';
import { composeProblems, configValueProblems, envNameProblems, publicFhirBaseProblems, referenceProblems, secretHygieneProblems, serviceProblems, urlProblems } from './k8s/checks-wiring.js';
import { DEPLOYABLES, K8S } from './k8s/deployables.js';
import { kustomizationFiles, renderLite } from './k8s/kustomize-lite.js';
import { byKind, containerEnv, find, kubectlPath, render, renderWithKubectl, secretData, workloads, type KObject } from './k8s/objects.js';

const BASE = path.join(K8S, 'base');
const DEMO = path.join(K8S, 'overlays/demo');
const base = render(BASE);
const demo = render(DEMO);
const FICUS = ['gateway', 'hl7-adapter', 'cdc', 'patient-service', 'results-service'];

/** every check that needs no answer from outside, by name */
const CHECKS: Record<string, (objects: KObject[]) => string[]> = {
  probes: probeProblems,
  ports: portProblems,
  security: securityProblems,
  termination: terminationProblems,
  gateway: gatewayProblems,
  cdc: cdcProblems,
  emergency: emergencyProblems,
  statefulSets: statefulSetProblems,
  services: serviceProblems,
  envNames: envNameProblems,
  configValues: configValueProblems,
  compose: composeProblems,
  secretHygiene: secretHygieneProblems,
  publicFhirBase: publicFhirBaseProblems,
};

describe(`deploy/k8s rendered with ${demo.renderer}`, () => {
  it('base: Ficus proper only (no legacy system, database, Redis or Secret), every object valid against its Kubernetes schema', async () => {
    expect(workloads(base.objects).map((w) => w.name).sort()).toEqual([...FICUS].sort());
    expect(byKind(base.objects, 'Secret')).toEqual([]);
    expect(byKind(base.objects, 'StatefulSet')).toEqual([]);
    expect(await schemaProblems(base.objects)).toEqual([]);
  });

  it('demo overlay: the base plus PostgreSQL and Redis (StatefulSets), the stand-in legacy HIS and demo Secrets, in namespace ficus-demo, every object valid', async () => {
    expect(workloads(demo.objects).map((w) => `${w.kind}/${w.name}`).sort()).toEqual(
      [...FICUS.map((n) => `Deployment/${n}`), 'Deployment/legacy-his', 'StatefulSet/postgres', 'StatefulSet/redis'].sort(),
    );
    for (const o of demo.objects) expect(o.kind === 'Namespace' ? o.metadata.name : o.metadata.namespace, `${o.kind}/${o.metadata.name}`).toBe('ficus-demo');
    expect(await schemaProblems(demo.objects)).toEqual([]);
  });

  for (const [name, check] of Object.entries(CHECKS)) {
    it(`${name}: no problem in the base or the demo overlay`, () => {
      expect(check(base.objects), 'base').toEqual([]);
      expect(check(demo.objects), 'demo').toEqual([]);
    });
  }

  it('references: the demo defines every ConfigMap, Secret and key referenced; the base leaves only Secrets to the overlay', () => {
    expect(referenceProblems(demo.objects).problems).toEqual([]);
    const { problems, external } = referenceProblems(base.objects, true);
    expect(problems).toEqual([]);
    expect([...external]).toEqual(['ficus-secrets']);
    // the demo's Secret has every key the base reads from it, and obviously-demo values
    const secrets = byKind(demo.objects, 'Secret').find((s) => s.metadata.name.startsWith('ficus-secrets'))!;
    expect(Object.keys(secretData(demo.objects, secrets.metadata.name)!).sort()).toEqual(['CDC_LEGACY_DATABASE_URL', 'DATABASE_URL', 'FICUS_ADMIN_TOKEN', 'REDIS_URL']);
    expect(secretData(demo.objects, secrets.metadata.name)!.FICUS_ADMIN_TOKEN).toMatch(/demo/);
  });

  it('URLs: every in-cluster URL of the demo (ConfigMaps and Secrets) names a Service and its port', () => {
    expect(urlProblems(demo.objects)).toEqual([]);
  });

  it('the gateway: 2+ replicas, a PodDisruptionBudget (minAvailable 1) and an autoscaling/v2 CPU autoscaler selecting its pods', () => {
    const gw = workloads(demo.objects).find((w) => w.name === 'gateway')!;
    expect(gw.replicas).toBeGreaterThanOrEqual(2);
    expect(find(demo.objects, 'PodDisruptionBudget', 'gateway')?.spec).toMatchObject({ minAvailable: 1, selector: { matchLabels: gw.selector } });
    expect(find(demo.objects, 'HorizontalPodAutoscaler', 'gateway')?.apiVersion).toBe('autoscaling/v2');
  });

  it('the CDC reader: exactly 1 replica, strategy Recreate; PostgreSQL starts with wal_level=logical and logs no row values', () => {
    const cdc = workloads(demo.objects).find((w) => w.name === 'cdc')!;
    expect([cdc.replicas, cdc.strategy]).toEqual([1, 'Recreate']);
    const pg = workloads(demo.objects).find((w) => w.name === 'postgres')!;
    expect(pg.pod.containers[0]!.args).toEqual(expect.arrayContaining(['wal_level=logical', 'log_error_verbosity=terse', 'log_min_error_statement=panic']));
  });

  it("the services' public FHIR base: one value for both (ConfigMap fhir-config), a placeholder in the base, the port-forwarded gateway in the demo", () => {
    const bases = (objects: KObject[]) =>
      workloads(objects)
        .filter((w) => w.name === 'patient-service' || w.name === 'results-service')
        .flatMap((w) => [...containerEnv(objects, w.pod.containers[0]!)].filter(([k]) => /FHIR_BASE_URL$/.test(k)).map(([k, v]) => `${w.name} ${k}=${v}`))
        .sort();
    expect(bases(base.objects)).toEqual([
      'patient-service FHIR_BASE_URL=https://ficus.hospital.example/fhir',
      'results-service FHIR_BASE_URL=https://ficus.hospital.example/fhir',
      'results-service PATIENT_SERVICE_FHIR_BASE_URL=https://ficus.hospital.example/fhir',
    ]);
    expect(bases(demo.objects).map((b) => b.split('=')[1])).toEqual(Array<string>(3).fill('http://localhost:8080/fhir'));
  });

  it('the HL7 adapter: MLLP (TCP 2575) and its API in ClusterIP Services; the demo exposes MLLP alone on a NodePort', () => {
    const ports = (o: KObject | undefined) => (o?.spec as { type: string; ports: { port: number; protocol: string; nodePort?: number }[] }) ?? {};
    expect(ports(find(base.objects, 'Service', 'hl7-adapter')).ports.map((p) => p.port).sort()).toEqual([2575, 8091]);
    expect(ports(find(base.objects, 'Service', 'hl7-mllp'))).toMatchObject({ type: 'ClusterIP', ports: [{ port: 2575, protocol: 'TCP' }] });
    expect(ports(find(demo.objects, 'Service', 'hl7-mllp'))).toMatchObject({ type: 'NodePort', ports: [{ port: 2575, protocol: 'TCP', nodePort: 30575 }] });
    // every other Service stays inside the cluster
    for (const s of byKind(demo.objects, 'Service').filter((s) => s.metadata.name !== 'hl7-mllp')) expect(ports(s).type, s.metadata.name).toBe('ClusterIP');
  });

  it('covers every Ficus deployable of docker-compose.yml', () => {
    const images = workloads(demo.objects).flatMap((w) => w.pod.containers.map((c) => c.image));
    for (const d of DEPLOYABLES) expect(images, d.name).toContain(d.compose.image);
  });
});

describe('the checks catch broken manifests', () => {
  type Breakage = [what: string, check: string, brk: (objects: KObject[]) => void];
  const deployment = (objects: KObject[], name: string) => find(objects, 'Deployment', name) as KObject & { spec: { replicas: number; strategy: { type: string }; template: { spec: { containers: Record<string, unknown>[]; securityContext: Record<string, unknown>; terminationGracePeriodSeconds: number; volumes: { name: string; configMap?: { optional?: boolean } }[] } } } };
  const container = (objects: KObject[], name: string) => deployment(objects, name).spec.template.spec.containers[0] as { readinessProbe: { httpGet: { path: string; port: string } }; env: { name: string; value?: string }[]; image: string };
  /** a container's variable given as a literal value instead (undefined: taken away) */
  const literalEnv = (objects: KObject[], name: string, variable: string, value: string | undefined) => {
    const env = container(objects, name).env;
    env.splice(env.findIndex((e) => e.name === variable), 1, ...(value === undefined ? [] : [{ name: variable, value }]));
  };
  const configMap = (objects: KObject[], prefix: string) => byKind(objects, 'ConfigMap').find((c) => c.metadata.name.startsWith(prefix))!.data as Record<string, string>;
  const breakages: Breakage[] = [
    ['readiness probe on /ready', 'probes', (o) => void (container(o, 'gateway').readinessProbe.httpGet.path = '/ready')],
    ['readiness probe on the admin port', 'probes', (o) => void (container(o, 'gateway').readinessProbe.httpGet.port = 'admin')],
    ['the health port moved in the ConfigMap only', 'probes', (o) => void (configMap(o, 'patient-service-config').PATIENT_SERVICE_PORT = '9101')],
    ['one gateway replica', 'gateway', (o) => void (deployment(o, 'gateway').spec.replicas = 1)],
    ['a PodDisruptionBudget selecting other pods', 'gateway', (o) => void ((find(o, 'PodDisruptionBudget', 'gateway')!.spec as { selector: unknown }).selector = { matchLabels: { 'app.kubernetes.io/name': 'gw' } })],
    ['the HL7 adapter without the emergency ConfigMap', 'emergency', (o) => void deployment(o, 'hl7-adapter').spec.template.spec.volumes.splice(1)],
    ['the gateway\'s emergency file outside the ConfigMap', 'emergency', (o) => void (configMap(o, 'gateway-config').FICUS_EMERGENCY_FILE = '/var/lib/ficus/emergency-legacy.yaml')],
    ['patient-service without the emergency ConfigMap', 'emergency', (o) => void deployment(o, 'patient-service').spec.template.spec.volumes.splice(1)],
    ['the CDC deployable\'s emergency file outside the ConfigMap', 'emergency', (o) => void (configMap(o, 'cdc-config').FICUS_EMERGENCY_FILE = '/var/lib/ficus/emergency-legacy.yaml')],
    ['results-service reading the file in its own state folder', 'emergency', (o) => void delete configMap(o, 'results-service-config').FICUS_EMERGENCY_FILE],
    ['the emergency ConfigMap required', 'emergency', (o) => void (deployment(o, 'hl7-adapter').spec.template.spec.volumes.find((v) => v.configMap)!.configMap!.optional = false)],
    ['cdc rolling', 'cdc', (o) => void (deployment(o, 'cdc').spec.strategy = { type: 'RollingUpdate' })],
    ['two cdc replicas', 'cdc', (o) => void (deployment(o, 'cdc').spec.replicas = 2)],
    ['a Service selector typo', 'services', (o) => void ((find(o, 'Service', 'results-service')!.spec as { selector: unknown }).selector = { 'app.kubernetes.io/name': 'result-service' })],
    ['a Service targetPort that no container has', 'services', (o) => void ((find(o, 'Service', 'cdc')!.spec as { ports: { targetPort: string }[] }).ports[0]!.targetPort = 'http')],
    ['a variable the gateway does not read', 'envNames', (o) => void (configMap(o, 'gateway-config').FICUS_GATEWAY_PROT = '8080')],
    ['an upstream override for an upstream no rule declares', 'envNames', (o) => void (configMap(o, 'gateway-config').FICUS_UPSTREAM_BILLING_URL = 'http://billing:80')],
    ['a log level the schema does not know', 'configValues', (o) => void (configMap(o, 'cdc-config').LOG_LEVEL = 'verbose')],
    ['a port that is not a number', 'configValues', (o) => void (configMap(o, 'gateway-config').FICUS_ADMIN_PORT = 'admin')],
    ['an image name compose does not build', 'compose', (o) => void (container(o, 'gateway').image = 'ficus/gatway:dev')],
    ['a variable compose sets, left out', 'compose', (o) => void delete configMap(o, 'hl7-adapter-config').FICUS_UPSTREAM_LEGACY_HL7_URL],
    ['a password in a ConfigMap URL', 'secretHygiene', (o) => void (configMap(o, 'cdc-config').CDC_STATE_DATABASE_URL = 'postgres://ficus:s3cret@db:5432/ficus_cdc')],
    ['a token in a ConfigMap', 'secretHygiene', (o) => void (configMap(o, 'gateway-config').FICUS_ADMIN_TOKEN = 'abc')],
    ['a root pod', 'security', (o) => void (deployment(o, 'hl7-adapter').spec.template.spec.securityContext.runAsNonRoot = false)],
    ['the state directory moved off its emptyDir', 'security', (o) => void (configMap(o, 'hl7-adapter-config').FICUS_STATE_DIR = '/var/lib/elsewhere')],
    ['a grace period shorter than the shutdown timeout', 'termination', (o) => void (deployment(o, 'cdc').spec.template.spec.terminationGracePeriodSeconds = 10)],
    // 5 s preStop + 10 s drain fit in 16 s; the gateway's bound (drain + 3 s) does not
    ['a gateway grace period above preStop plus drain but not plus its shutdown bound', 'termination', (o) => void (deployment(o, 'gateway').spec.template.spec.terminationGracePeriodSeconds = 16)],
    ['a service grace period without its entry point\'s 2 s', 'termination', (o) => void (deployment(o, 'patient-service').spec.template.spec.terminationGracePeriodSeconds = 16)],
    ['a CDC liveness probe that gives up after 3 s', 'cdc', (o) => void ((container(o, 'cdc') as unknown as { livenessProbe: { timeoutSeconds: number } }).livenessProbe.timeoutSeconds = 3)],
    ['a StatefulSet governed by an ordinary (ClusterIP) Service', 'statefulSets', (o) => void ((find(o, 'StatefulSet', 'postgres')!.spec as { serviceName: string }).serviceName = 'postgres')],
    ['a StatefulSet naming no Service', 'statefulSets', (o) => void ((find(o, 'StatefulSet', 'redis')!.spec as { serviceName: string }).serviceName = 'redis-hl')],
    ['results referring to patients by the in-cluster name', 'publicFhirBase', (o) => literalEnv(o, 'results-service', 'PATIENT_SERVICE_FHIR_BASE_URL', 'http://patient-service:8101/fhir')],
    ['the base at a Service\'s cluster DNS name', 'publicFhirBase', (o) => literalEnv(o, 'patient-service', 'FHIR_BASE_URL', 'http://gateway.ficus-demo.svc.cluster.local:8080/fhir')],
    ['a base that is not /fhir', 'publicFhirBase', (o) => literalEnv(o, 'results-service', 'FHIR_BASE_URL', 'http://localhost:8080/')],
    ['a service left without the public FHIR base', 'publicFhirBase', (o) => literalEnv(o, 'patient-service', 'FHIR_BASE_URL', undefined)],
    ['two public FHIR bases', 'publicFhirBase', (o) => literalEnv(o, 'results-service', 'FHIR_BASE_URL', 'https://other.hospital.example/fhir')],
    ['a container port no setting listens on', 'ports', (o) => void (deployment(o, 'results-service').spec.template.spec.containers[0]!.ports = [{ name: 'http', containerPort: 8080 }])],
  ];

  it.each(breakages)('%s (check %s)', (_what, check, brk) => {
    const broken = structuredClone(demo.objects);
    expect(CHECKS[check]!(broken)).toEqual([]);
    brk(broken);
    expect(CHECKS[check]!(broken).length).toBeGreaterThan(0);
  });

  it('a reference to a missing Secret key or ConfigMap', () => {
    const broken = structuredClone(demo.objects);
    const env = container(broken, 'cdc').env;
    env.push({ name: 'CDC_MSSQL_URL', valueFrom: { secretKeyRef: { name: byKind(broken, 'Secret')[0]!.metadata.name, key: 'NOPE' } } } as never);
    (deployment(broken, 'gateway').spec.template.spec.containers[0] as { envFrom: unknown[] }).envFrom.push({ configMapRef: { name: 'missing-config' } });
    expect(referenceProblems(broken).problems).toHaveLength(2);
  });

  it('an unknown kind, an unknown apiVersion and an invalid field fail schema validation', async () => {
    const broken: KObject[] = [
      { apiVersion: 'v1', kind: 'Servise', metadata: { name: 'x' } },
      { apiVersion: 'example.org/v9', kind: 'Thing', metadata: { name: 'y' } },
      { ...structuredClone(deployment(demo.objects, 'gateway')), spec: { ...structuredClone(deployment(demo.objects, 'gateway').spec), replicas: 'two' } },
    ];
    const problems = await schemaProblems(broken);
    expect(problems).toHaveLength(3);
    expect(problems[2]).toMatch(/replicas must be integer/);
  });
});

describe('the fallback renderer (for machines without kubectl)', () => {
  it('reads every file the kustomizations list, and they exist', () => {
    const files = kustomizationFiles(DEMO).map((f) => path.relative(K8S, f));
    expect(files).toEqual(expect.arrayContaining(['overlays/demo/kustomization.yaml', 'base/kustomization.yaml', 'base/gateway.yaml', 'base/config/gateway.env', 'overlays/demo/postgres.yaml']));
  });

  it.skipIf(!kubectlPath())('renders what kubectl kustomize renders (hash suffixes of generated names aside)', () => {
    for (const dir of [BASE, DEMO]) {
      const lite = renderLite(dir);
      const generated = new Set(lite.filter((o) => o.kind === 'ConfigMap' || o.kind === 'Secret').map((o) => o.metadata.name));
      const unhash = (v: unknown): unknown => {
        if (typeof v === 'string') {
          const m = /^(.*)-[a-z0-9]{10}$/.exec(v);
          return m && generated.has(m[1]!) ? m[1] : v;
        }
        if (Array.isArray(v)) return v.map(unhash);
        if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unhash(x)]));
        return v;
      };
      const key = (o: KObject) => `${o.kind}/${o.metadata.name}`;
      const sorted = (objects: KObject[]) => [...objects].sort((a, b) => key(a).localeCompare(key(b)));
      expect(sorted(lite), dir).toEqual(sorted(unhash(renderWithKubectl(kubectlPath()!, dir)) as KObject[]));
    }
  });
});
