/**
 * Checks of the workloads themselves: schema validity, probes, ports, security, termination,
 * resources, and the gateway's and the CDC reader's special needs. Each answers a list of
 * problems (empty: fine), so that a test can also show a check catching a broken copy.
 */
import type { IContainer } from 'kubernetes-models/v1';
import { containerEnv, find, resolvePort, selects, workloads, type KObject } from './objects.js';
import { deployableOf, effective, shutdownBoundS } from './deployables.js';

type ModelClass = (new (data: unknown) => { validate(): void }) & { apiVersion?: string; kind?: string };

/** every object against the Kubernetes schema of its apiVersion and kind (kubernetes-models) */
export async function schemaProblems(objects: KObject[]): Promise<string[]> {
  const problems: string[] = [];
  for (const o of objects) {
    const where = `${o.kind}/${o.metadata?.name}`;
    const [group, version] = o.apiVersion?.includes('/') ? o.apiVersion.split('/') : [undefined, o.apiVersion];
    let mod: Record<string, unknown>;
    try {
      const specifier = `kubernetes-models/${group ? `${group}/` : ''}${version}`;
      mod = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
    } catch {
      problems.push(`${where}: unknown apiVersion ${o.apiVersion}`);
      continue;
    }
    const Model = Object.values(mod).find((v): v is ModelClass => typeof v === 'function' && (v as ModelClass).kind === o.kind && (v as ModelClass).apiVersion === o.apiVersion);
    if (!Model) {
      problems.push(`${where}: unknown kind ${o.kind} in ${o.apiVersion}`);
      continue;
    }
    try {
      new Model(o).validate();
    } catch (e) {
      problems.push(`${where}: ${(e as Error).message}`);
    }
  }
  return problems;
}

const containersOf = (objects: KObject[]) => workloads(objects).flatMap((w) => w.pod.containers.map((c) => ({ w, c, where: `${w.kind}/${w.name} container ${c.name}` })));

/** Ficus containers: readiness /readyz and liveness /healthz over HTTP on the port their config serves them on; others: some probes */
export function probeProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const { c, where } of containersOf(objects)) {
    const d = deployableOf(c.image);
    if (!d) {
      if (!c.readinessProbe || !c.livenessProbe) problems.push(`${where}: readiness and liveness probes expected`);
      continue;
    }
    const healthPort = Number(effective(d, containerEnv(objects, c), d.healthPortVar));
    for (const [probe, p, wanted] of [
      ['readinessProbe', c.readinessProbe, '/readyz'],
      ['livenessProbe', c.livenessProbe, '/healthz'],
      ['startupProbe', c.startupProbe, '/healthz'],
    ] as const) {
      if (!p) {
        if (probe !== 'startupProbe') problems.push(`${where}: no ${probe}`);
        continue;
      }
      if (p.httpGet?.path !== wanted) problems.push(`${where}: ${probe} is not an HTTP GET of ${wanted}`);
      const port = resolvePort(c, p.httpGet?.port);
      if (port === undefined) problems.push(`${where}: ${probe} port ${String(p.httpGet?.port)} is not a container port`);
      else if (port !== healthPort) problems.push(`${where}: ${probe} on port ${port}, but ${d.healthPortVar} is ${healthPort}`);
    }
  }
  return problems;
}

/** Ficus containers: each container port is one the config listens on, and the ports docker-compose.yml publishes are declared */
export function portProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const { c, where } of containersOf(objects)) {
    const d = deployableOf(c.image);
    if (!d) continue;
    const env = containerEnv(objects, c);
    const listening = Object.keys(d.schema.properties)
      .filter((k) => k.endsWith('_PORT'))
      .map((k) => Number(effective(d, env, k)));
    const declared = (c.ports ?? []).map((p) => p.containerPort);
    for (const p of declared) if (!listening.includes(p)) problems.push(`${where}: container port ${p} is none of its *_PORT settings (${listening.join(', ')})`);
    for (const published of d.compose.ports ?? []) {
      const port = Number(published.split(':').pop());
      if (!declared.includes(port)) problems.push(`${where}: docker-compose.yml publishes ${port}, the container does not declare it`);
    }
  }
  return problems;
}

/** non-root, no privilege escalation, no capabilities, read-only root with the state directory on an emptyDir, resources */
export function securityProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const w of workloads(objects)) {
    const pod = w.pod.securityContext;
    const where = `${w.kind}/${w.name}`;
    if (pod?.runAsNonRoot !== true) problems.push(`${where}: runAsNonRoot is not true`);
    // an image whose USER is a name ("node") cannot be checked by the kubelet: a uid is needed
    if (!pod?.runAsUser) problems.push(`${where}: no numeric non-zero runAsUser`);
    if (pod?.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${where}: seccompProfile is not RuntimeDefault`);
    if (w.pod.automountServiceAccountToken !== false) problems.push(`${where}: mounts a service account token it does not use`);
  }
  for (const { w, c, where } of containersOf(objects)) {
    const sc = c.securityContext;
    if (sc?.allowPrivilegeEscalation !== false) problems.push(`${where}: allowPrivilegeEscalation is not false`);
    if (!sc?.capabilities?.drop?.includes('ALL')) problems.push(`${where}: capabilities are not dropped`);
    if (sc?.readOnlyRootFilesystem !== true) problems.push(`${where}: root file system is writable`);
    if (!c.resources?.requests?.cpu || !c.resources.requests.memory) problems.push(`${where}: no cpu and memory requests`);
    if (!c.resources?.limits?.memory) problems.push(`${where}: no memory limit`);
    const d = deployableOf(c.image);
    if (!d || !('FICUS_STATE_DIR' in d.schema.properties)) continue;
    // it writes the last good rules (and maybe a first admin token) there
    const dir = effective(d, containerEnv(objects, c), 'FICUS_STATE_DIR');
    const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
    const volume = w.pod.volumes?.find((v) => v.name === mount?.name);
    if (!volume?.emptyDir || mount?.readOnly) problems.push(`${where}: FICUS_STATE_DIR ${dir} is not a writable emptyDir`);
  }
  return problems;
}

/**
 * The pod gets longer than the preStop pause plus the deployable's shutdown bound (how long
 * after SIGTERM its process exits at the latest: its drain timeout and what its entry point adds).
 */
export function terminationProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const { w, c, where } of containersOf(objects)) {
    const d = deployableOf(c.image);
    if (!d) continue;
    if (!(d.shutdownVar in d.schema.properties)) {
      problems.push(`${where}: its config has no ${d.shutdownVar}`);
      continue;
    }
    const boundS = shutdownBoundS(d, containerEnv(objects, c));
    const sleep = preStopSleep(c);
    const grace = w.pod.terminationGracePeriodSeconds ?? 30;
    if (!(grace > boundS + sleep)) problems.push(`${where}: terminationGracePeriodSeconds ${grace} is not above its shutdown bound (${boundS} s, from ${d.shutdownVar}) + preStop (${sleep} s)`);
  }
  return problems;
}

function preStopSleep(c: IContainer): number {
  const pre = c.lifecycle?.preStop;
  if (pre?.sleep) return pre.sleep.seconds;
  const cmd = pre?.exec?.command;
  return cmd?.[0] === 'sleep' ? Number(cmd[1]) : 0;
}

/** the gateway: 2+ replicas, a PodDisruptionBudget and a CPU HorizontalPodAutoscaler on its pods */
export function gatewayProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  const gw = workloads(objects).find((w) => w.kind === 'Deployment' && w.name === 'gateway');
  if (!gw) return ['no Deployment gateway'];
  if (gw.replicas < 2) problems.push(`gateway: ${gw.replicas} replica(s), at least 2 expected`);
  if (!selects(gw.selector, gw.podLabels)) problems.push('gateway: its selector does not select its own pods');
  const pdbs = objects.filter((o) => o.kind === 'PodDisruptionBudget' && selects((o.spec as { selector?: { matchLabels?: Record<string, string> } }).selector?.matchLabels, gw.podLabels));
  if (!pdbs.some((p) => (p.spec as { minAvailable?: number }).minAvailable === 1)) problems.push('gateway: no PodDisruptionBudget with minAvailable 1 selects its pods');
  const hpa = objects.find((o) => o.kind === 'HorizontalPodAutoscaler' && (o.spec as { scaleTargetRef?: { kind?: string; name?: string } }).scaleTargetRef?.name === 'gateway');
  if (!hpa) return [...problems, 'gateway: no HorizontalPodAutoscaler'];
  const spec = hpa.spec as { scaleTargetRef: { kind: string; apiVersion?: string }; minReplicas?: number; metrics?: { type: string; resource?: { name: string } }[] };
  if (hpa.apiVersion !== 'autoscaling/v2') problems.push(`gateway HPA: ${hpa.apiVersion}, autoscaling/v2 expected`);
  if (spec.scaleTargetRef.kind !== 'Deployment' || spec.scaleTargetRef.apiVersion !== 'apps/v1') problems.push('gateway HPA: does not target the Deployment');
  if ((spec.minReplicas ?? 1) < 2) problems.push('gateway HPA: minReplicas below 2');
  if (!spec.metrics?.some((m) => m.type === 'Resource' && m.resource?.name === 'cpu')) problems.push('gateway HPA: no CPU metric');
  if (!gw.pod.containers.every((c) => c.resources?.requests?.cpu)) problems.push('gateway: CPU utilisation needs CPU requests');
  return problems;
}

/** a first snapshot keeps the CDC reader's event loop busy: /healthz may take seconds, which is no reason to restart it */
export const CDC_MIN_PROBE_TIMEOUT_S = 10;

/** the CDC reader: one replica, replaced with Recreate (one reader of the replication slot), no HPA, patient health probes */
export function cdcProblems(objects: KObject[]): string[] {
  const cdc = workloads(objects).find((w) => w.kind === 'Deployment' && w.name === 'cdc');
  if (!cdc) return ['no Deployment cdc'];
  const problems: string[] = [];
  if (cdc.replicas !== 1) problems.push(`cdc: ${cdc.replicas} replicas, exactly 1 expected`);
  if (cdc.strategy !== 'Recreate') problems.push(`cdc: strategy ${cdc.strategy}, Recreate expected`);
  if (find(objects, 'HorizontalPodAutoscaler', 'cdc')) problems.push('cdc: must not be autoscaled');
  for (const c of cdc.pod.containers) {
    for (const [name, probe] of [
      ['livenessProbe', c.livenessProbe],
      ['startupProbe', c.startupProbe],
    ] as const) {
      // the default timeout is 1 s
      const timeout = probe?.timeoutSeconds ?? 1;
      if (probe && timeout < CDC_MIN_PROBE_TIMEOUT_S) problems.push(`cdc: ${name} timeoutSeconds ${timeout}, at least ${CDC_MIN_PROBE_TIMEOUT_S} expected (a snapshot slows /healthz)`);
    }
  }
  return problems;
}

/** a StatefulSet's serviceName names the headless Service (clusterIP None) that governs its pods' DNS names */
export function statefulSetProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const s of objects.filter((o) => o.kind === 'StatefulSet')) {
    const name = (s.spec as { serviceName?: string }).serviceName;
    const labels = ((s.spec as { template?: { metadata?: { labels?: Record<string, string> } } }).template?.metadata?.labels ?? {}) as Record<string, string>;
    const svc = name ? find(objects, 'Service', name) : undefined;
    const spec = svc?.spec as { clusterIP?: string; selector?: Record<string, string> } | undefined;
    if (!svc) problems.push(`StatefulSet/${s.metadata.name}: serviceName ${String(name)} names no Service`);
    else if (spec?.clusterIP !== 'None') problems.push(`StatefulSet/${s.metadata.name}: serviceName ${name} is not a headless Service (clusterIP: None)`);
    else if (!selects(spec.selector, labels)) problems.push(`StatefulSet/${s.metadata.name}: its headless Service ${name} does not select its pods`);
  }
  return problems;
}

/** the ConfigMap that holds the emergency override file (README "Break glass") on every replica */
export const EMERGENCY_CONFIG_MAP = 'ficus-emergency';

/**
 * Break glass: every deployable that reads FICUS_EMERGENCY_FILE (the gateway, the HL7 adapter,
 * the extracted services and the CDC deployable, which give the record to the legacy by it)
 * points it into a read-only mount of the optional ConfigMap ficus-emergency, so that one
 * `kubectl create configmap` reaches every replica of all of them, those started later included, and
 * with no incident (no such ConfigMap) every pod still starts.
 */
export function emergencyProblems(objects: KObject[]): string[] {
  const problems: string[] = [];
  for (const { w, c, where } of containersOf(objects)) {
    const d = deployableOf(c.image);
    if (!d || !('FICUS_EMERGENCY_FILE' in d.schema.properties)) continue;
    const file = effective(d, containerEnv(objects, c), 'FICUS_EMERGENCY_FILE');
    if (!file) {
      problems.push(`${where}: FICUS_EMERGENCY_FILE not set (the file would be in the pod's own state directory, out of reach of a ConfigMap)`);
      continue;
    }
    const dir = file.slice(0, file.lastIndexOf('/'));
    const mount = c.volumeMounts?.find((m) => m.mountPath === dir);
    const volume = w.pod.volumes?.find((v) => v.name === mount?.name);
    if (volume?.configMap?.name !== EMERGENCY_CONFIG_MAP) problems.push(`${where}: ${dir} (FICUS_EMERGENCY_FILE's folder) is not a mount of ConfigMap ${EMERGENCY_CONFIG_MAP}`);
    else if (volume.configMap.optional !== true) problems.push(`${where}: ConfigMap ${EMERGENCY_CONFIG_MAP} is not optional (no pod would start without an incident)`);
    else if (mount?.readOnly !== true || mount.subPath) problems.push(`${where}: ${dir} is not a read-only mount of the whole ConfigMap (a subPath mount is never updated)`);
  }
  return problems;
}
