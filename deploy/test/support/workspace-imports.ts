/**
 * What each workspace's shipped code imports from packages, against what its package.json
 * declares. In the repository every package is hoisted to one node_modules, so an import of a
 * package only another workspace depends on works here and fails in an image that installs
 * the production dependencies of the workspaces it copies. Type-only imports are erased by the
 * compiler: a devDependency is enough for them.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import path from 'node:path';

export interface UndeclaredImport {
  workspace: string;
  packageName: string;
  file: string;
  typeOnly: boolean;
}

const BUILTINS = new Set(builtinModules);
const IMPORT = /^\s*(?:import|export)\s+(type\s+)?[^'";]*?\sfrom\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/gm;

/** shipped sources: *.ts and *.tsx under src/, without tests, declarations and build output */
function shippedSources(dir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) return ['node_modules', 'dist', 'test'].includes(e) ? [] : shippedSources(p);
    return /\.tsx?$/.test(e) && !/\.test\.tsx?$/.test(e) && !e.endsWith('.d.ts') ? [p] : [];
  });
}

export const packageOf = (specifier: string) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/');

export function undeclaredImports(root: string): UndeclaredImport[] {
  const workspaces = (JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
  const found: UndeclaredImport[] = [];
  for (const ws of workspaces) {
    const manifest = JSON.parse(readFileSync(path.join(root, ws, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string>; devDependencies?: Record<string, string> };
    const runtime = new Set(Object.keys(manifest.dependencies ?? {}));
    const dev = new Set(Object.keys(manifest.devDependencies ?? {}));
    for (const file of shippedSources(path.join(root, ws, 'src'))) {
      for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
        const specifier = m[2] ?? m[3] ?? m[4]!;
        const typeOnly = m[1] !== undefined;
        if (specifier.startsWith('.') || specifier.startsWith('node:') || BUILTINS.has(packageOf(specifier))) continue;
        const name = packageOf(specifier);
        if (name === manifest.name || runtime.has(name)) continue;
        if (typeOnly && (dev.has(name) || dev.has(`@types/${name}`))) continue;
        found.push({ workspace: ws, packageName: name, file: path.relative(root, file), typeOnly });
      }
    }
  }
  return found;
}
