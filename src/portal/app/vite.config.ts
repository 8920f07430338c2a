// Builds the portal (npm run build): src/portal/app → dist/portal/app, every asset local (no CDN).
import { fileURLToPath } from 'node:url';
import preact from '@preact/preset-vite';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/',
  plugins: [preact()],
  logLevel: 'warn',
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
