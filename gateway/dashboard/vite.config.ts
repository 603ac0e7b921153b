// The dashboard is built into dist/ and served by the admin API at /admin (no CDN: every
// file comes from this build). Preact's JSX through Vite's own transform, no plugin needed.
import { defineConfig } from 'vite';

export default defineConfig({
  root: import.meta.dirname,
  base: '/admin/',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, target: 'es2022', chunkSizeWarningLimit: 200 },
  logLevel: 'warn',
});
