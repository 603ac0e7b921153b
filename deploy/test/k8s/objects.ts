/**
 * Rendered Kubernetes objects and the views of them the checks need: workloads with their pod
 * templates, and each container's environment as the kubelet would assemble it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { IContainer, IPodSpec } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { renderLite } from './kustomize-lite.js';

export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

export interface Workload {
  kind: 'Deployment' | 'StatefulSet';
  name: string;
  replicas: number;
  podLabels: Record<string, string>;
  selector: Record<string, string>;
  strategy: string | undefined;
  pod: IPodSpec;
}

/** kubectl on PATH, or undefined (then the fallback renderer is used) */
export function kubectlPath(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const p = path.join(dir, 'kubectl');
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

export function renderWithKubectl(kubectl: string, dir: string): KObject[] {
  const text = execFileSync(kubectl, ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const objects = parseAllDocuments(text)
    .map((d) => d.toJS() as KObject | null)
    .filter((o): o is KObject => o !== null);
  // kustomize wraps a generated Secret's long base64 values at 70 characters (a block scalar
  // with newlines); the API server's decoder skips the newlines, the "byte" format check does not
  for (const s of objects.filter((o) => o.kind === 'Secret' && o.data)) {
    s.data = Object.fromEntries(Object.entries(s.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s/g, '')]));
  }
  return objects;
}

export function render(dir: string): { objects: KObject[]; renderer: 'kubectl kustomize' | 'kustomize-lite' } {
  const kubectl = kubectlPath();
  return kubectl ? { objects: renderWithKubectl(kubectl, dir), renderer: 'kubectl kustomize' } : { objects: renderLite(dir), renderer: 'kustomize-lite' };
}

export const byKind = (objects: KObject[], kind: string) => objects.filter((o) => o.kind === kind);
export const find = (objects: KObject[], kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

interface WorkloadSpec {
  replicas?: number;
  selector?: { matchLabels?: Record<string, string> };
  strategy?: { type?: string };
  template?: { metadata?: { labels?: Record<string, string> }; spec?: IPodSpec };
}

export function workloads(objects: KObject[]): Workload[] {
  return objects
    .filter((o) => o.kind === 'Deployment' || o.kind === 'StatefulSet')
    .map((o) => {
      const spec = (o.spec ?? {}) as WorkloadSpec;
      return {
        kind: o.kind as Workload['kind'],
        name: o.metadata.name,
        replicas: spec.replicas ?? 1,
        podLabels: spec.template?.metadata?.labels ?? {},
        selector: spec.selector?.matchLabels ?? {},
        strategy: spec.strategy?.type,
        pod: spec.template?.spec ?? { containers: [] },
      };
    });
}

/** does a label selector (matchLabels) select these labels? An empty selector selects nothing here. */
export function selects(selector: Record<string, string> | undefined, labels: Record<string, string>): boolean {
  const entries = Object.entries(selector ?? {});
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v);
}

export function configMapData(objects: KObject[], name: string): Record<string, string> | undefined {
  return find(objects, 'ConfigMap', name)?.data as Record<string, string> | undefined;
}

/** a Secret's values, decoded (data is base64, stringData plain) */
export function secretData(objects: KObject[], name: string): Record<string, string> | undefined {
  const s = find(objects, 'Secret', name);
  if (!s) return undefined;
  const data = Object.entries((s.data ?? {}) as Record<string, string>).map(([k, v]) => [k, Buffer.from(v, 'base64').toString('utf8')]);
  return { ...Object.fromEntries(data), ...((s.stringData ?? {}) as Record<string, string>) };
}

/**
 * A container's environment: every variable name it gets, with its value where the rendered
 * objects hold it (a value from a Secret the render does not contain is undefined).
 */
export function containerEnv(objects: KObject[], c: IContainer): Map<string, string | undefined> {
  const env = new Map<string, string | undefined>();
  for (const from of c.envFrom ?? []) {
    const data = from.configMapRef ? configMapData(objects, from.configMapRef.name ?? '') : from.secretRef ? secretData(objects, from.secretRef.name ?? '') : undefined;
    for (const [k, v] of Object.entries(data ?? {})) env.set(`${from.prefix ?? ''}${k}`, v);
  }
  for (const e of c.env ?? []) {
    const ref = e.valueFrom;
    const value = ref?.secretKeyRef
      ? secretData(objects, ref.secretKeyRef.name ?? '')?.[ref.secretKeyRef.key]
      : ref?.configMapKeyRef
        ? configMapData(objects, ref.configMapKeyRef.name ?? '')?.[ref.configMapKeyRef.key]
        : e.value;
    env.set(e.name, value);
  }
  return env;
}

/** a probe's or Service's port (a number or a container port's name) as a number */
export function resolvePort(c: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return c.ports?.some((p) => p.containerPort === port) ? port : undefined;
  return c.ports?.find((p) => p.name === port)?.containerPort;
}
