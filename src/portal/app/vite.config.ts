// Builds the portal (npm run build): src/portal/app → dist/portal/app, every asset local (no CDN).
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact()],
  logLevel: 'warn',
  // `npx vite --config src/portal/app/vite.config.ts`: the app with hot reload, its API calls sent to a
  // running `idsync serve` (IDSYNC_URL, or serve's default port)
  server: {
    proxy: { '/api': { target: process.env.IDSYNC_URL ?? 'http://127.0.0.1:7643', changeOrigin: false } },
  },
  build: {
    outDir: fileURLToPath(new URL('../../../dist/portal/app', import.meta.url)),
    emptyOutDir: true,
    // the CSP allows no inline script: no preload polyfill snippet
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
});
