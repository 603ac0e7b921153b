/**
 * A small kustomize for machines without kubectl: it renders exactly the features the Ficus
 * kustomizations use (resources, namespace, configMap/secret generators from literals and env
 * files, an overlay's configMap generator merged into the base's, images, inline JSON 6902
 * patches) and refuses any other key, so a kustomization that
 * grows a feature fails here loudly instead of rendering differently. Generated names get no
 * hash suffix (kustomize's would be rewritten in every reference anyway); where kubectl is
 * present, kubernetes.test.ts checks that both render the same objects.
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import type { KObject } from './objects.js';

interface Generator {
  name: string;
  /** an overlay's generator of a name the base generates too: add its keys (merge) or take its place (replace) */
  behavior?: 'create' | 'merge' | 'replace';
  literals?: string[];
  envs?: string[];
}
interface Patch {
  target: { kind: string; name: string; version?: string; group?: string };
  patch: string;
}
interface Kustomization {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  resources?: string[];
  configMapGenerator?: Generator[];
  secretGenerator?: Generator[];
  images?: { name: string; newName?: string; newTag?: string }[];
  patches?: Patch[];
}
interface JsonPatchOp {
  op: string;
  path: string;
  value?: unknown;
}

const SUPPORTED = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'configMapGenerator', 'secretGenerator', 'images', 'patches']);
const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass', 'CustomResourceDefinition', 'PriorityClass']);

/** The files a kustomization reads, itself included, recursively (for a renderer-less check). */
export function kustomizationFiles(dir: string): string[] {
  const k = readKustomization(dir);
  const files = [path.join(dir, 'kustomization.yaml')];
  for (const r of k.resources ?? []) {
    const p = path.resolve(dir, r);
    files.push(...(statSync(p).isDirectory() ? kustomizationFiles(p) : [p]));
  }
  for (const g of [...(k.configMapGenerator ?? []), ...(k.secretGenerator ?? [])]) files.push(...(g.envs ?? []).map((e) => path.resolve(dir, e)));
  return files;
}

/** Renders the kustomization in `dir` as `kubectl kustomize dir` would (hash suffixes aside). */
export function renderLite(dir: string): KObject[] {
  const k = readKustomization(dir);
  const out: KObject[] = [];
  for (const r of k.resources ?? []) {
    const p = path.resolve(dir, r);
    out.push(...(statSync(p).isDirectory() ? renderLite(p) : readObjects(p)));
  }
  for (const g of k.configMapGenerator ?? []) {
    const data = generatorData(dir, g);
    const earlier = out.find((o) => o.kind === 'ConfigMap' && o.metadata.name === g.name);
    if ((g.behavior === 'merge' || g.behavior === 'replace') && !earlier) throw new Error(`configMapGenerator ${g.name}: behavior ${g.behavior}, but no resource generates it`);
    if (earlier && g.behavior !== 'merge' && g.behavior !== 'replace') throw new Error(`configMapGenerator ${g.name}: generated twice (give the overlay's behavior: merge or replace)`);
    if (earlier) earlier.data = g.behavior === 'merge' ? { ...(earlier.data as Record<string, string>), ...data } : data;
    else out.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: g.name }, data });
  }
  for (const g of k.secretGenerator ?? []) {
    const data = Object.fromEntries(Object.entries(generatorData(dir, g)).map(([key, v]) => [key, Buffer.from(v).toString('base64')]));
    out.push({ apiVersion: 'v1', kind: 'Secret', type: 'Opaque', metadata: { name: g.name }, data });
  }
  for (const p of k.patches ?? []) applyPatch(out, p);
  for (const image of k.images ?? []) setImage(out, image);
  if (k.namespace) for (const o of out) if (!CLUSTER_SCOPED.has(o.kind)) o.metadata.namespace = k.namespace;
  return out;
}

function readKustomization(dir: string): Kustomization {
  const k = parse(readFileSync(path.join(dir, 'kustomization.yaml'), 'utf8')) as Kustomization;
  const unknown = Object.keys(k).filter((key) => !SUPPORTED.has(key));
  if (unknown.length) throw new Error(`${dir}/kustomization.yaml: ${unknown.join(', ')} not supported by the fallback renderer (install kubectl, or teach kustomize-lite.ts)`);
  return k;
}

function readObjects(file: string): KObject[] {
  return parseAllDocuments(readFileSync(file, 'utf8'))
    .map((d) => {
      if (d.errors.length) throw new Error(`${file}: ${d.errors[0]!.message}`);
      return d.toJS() as KObject | null;
    })
    .filter((o): o is KObject => o !== null);
}

/** kustomize's env-file rules: KEY=VALUE per line, blank lines and # comments skipped. */
function generatorData(dir: string, g: Generator): Record<string, string> {
  const pairs = [...(g.envs ?? []).flatMap((e) => readFileSync(path.resolve(dir, e), 'utf8').split('\n')), ...(g.literals ?? [])];
  const data: Record<string, string> = {};
  for (const line of pairs.map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`generator ${g.name}: "${line}" is not KEY=VALUE`);
    data[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return data;
}

function applyPatch(objects: KObject[], p: Patch): void {
  const targets = objects.filter((o) => o.kind === p.target.kind && o.metadata.name === p.target.name);
  if (!targets.length) throw new Error(`patch target ${p.target.kind}/${p.target.name} not found`);
  const ops = parse(p.patch) as JsonPatchOp[];
  for (const o of targets) for (const op of ops) applyOp(o, op);
}

/** RFC 6902 add, replace and remove: what the overlays use. */
function applyOp(doc: KObject, op: JsonPatchOp): void {
  const tokens = op.path.split('/').slice(1).map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  const last = tokens.pop()!;
  let parent: unknown = doc;
  for (const t of tokens) {
    parent = (parent as Record<string, unknown>)[t];
    if (parent === undefined) throw new Error(`patch path ${op.path}: ${t} does not exist`);
  }
  if (Array.isArray(parent)) {
    const i = last === '-' ? parent.length : Number(last);
    if (op.op === 'add') parent.splice(i, 0, op.value);
    else if (op.op === 'replace') parent[i] = op.value;
    else if (op.op === 'remove') parent.splice(i, 1);
    else throw new Error(`patch op ${op.op} not supported`);
    return;
  }
  const obj = parent as Record<string, unknown>;
  if (op.op === 'add' || op.op === 'replace') {
    if (op.op === 'replace' && !(last in obj)) throw new Error(`patch path ${op.path} does not exist`);
    obj[last] = op.value;
  } else if (op.op === 'remove') delete obj[last];
  else throw new Error(`patch op ${op.op} not supported`);
}

function setImage(objects: KObject[], image: { name: string; newName?: string; newTag?: string }): void {
  for (const o of objects) {
    const spec = (o.spec as { template?: { spec?: { containers?: { image?: string }[]; initContainers?: { image?: string }[] } } } | undefined)?.template?.spec;
    for (const c of [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])]) {
      const m = /^([^:@]+(?::\d+\/[^:@]+)?)(?::([^@]+))?$/.exec(c.image ?? '');
      if (!m || m[1] !== image.name) continue;
      c.image = `${image.newName ?? m[1]}${image.newTag ?? m[2] ? ':' + (image.newTag ?? m[2]) : ''}`;
    }
  }
}
