/**
 * Every package a workspace's shipped code imports is in its own package.json: an image that
 * installs only the production dependencies of what it copies must not miss one. (In the
 * repository every package is hoisted, so a forgotten one goes unnoticed: the gateway used
 * @sinclair/typebox through the contracts' dependency until this test.)
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { undeclaredImports } from './support/workspace-imports.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('workspace dependencies', () => {
  it('every workspace declares the packages its shipped code imports', () => {
    expect(undeclaredImports(ROOT)).toEqual([]);
  });

  it('finds an undeclared package, a runtime import of a devDependency, and lets type-only and declared ones be', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ficus-ws-'));
    const file = (p: string, text: string) => {
      mkdirSync(path.dirname(path.join(root, p)), { recursive: true });
      writeFileSync(path.join(root, p), text);
    };
    file('package.json', JSON.stringify({ workspaces: ['svc'] }));
    file('svc/package.json', JSON.stringify({ name: '@x/svc', dependencies: { pg: '1' }, devDependencies: { vitest: '1', '@types/express': '1' } }));
    file(
      'svc/src/main.ts',
      [
        "import pg from 'pg';",
        "import { readFileSync } from 'node:fs';",
        "import path from 'path';",
        "import { helper } from './helper.js';",
        "import { Type } from '@sinclair/typebox';",
        "import { describe } from 'vitest';",
        "import type { Request } from 'express';",
        "export { thing } from 'lodash/fp';",
        "const later = await import('ioredis');",
        "import '@x/svc/side-effect';",
      ].join('\n'),
    );
    file('svc/src/main.test.ts', "import { nope } from 'not-declared-but-a-test';");
    expect(undeclaredImports(root).map((u) => `${u.packageName} ${u.typeOnly ? 'type' : 'runtime'}`)).toEqual([
      '@sinclair/typebox runtime',
      'vitest runtime',
      'lodash runtime',
      'ioredis runtime',
    ]);
  });
});
