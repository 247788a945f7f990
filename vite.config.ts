// The renderer's build: Svelte 5 (runes) from src-renderer/ into dist-renderer/, which both hosts serve
// (Electron loads it from disk, `svalab serve` over HTTP). The renderer imports shared/ and nothing from src-main/.
import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('./src-renderer', import.meta.url));

export default defineConfig({
  root,
  // Relative asset URLs: the same build works from file:// or app:// (Electron) and from http:// (web host).
  base: './',
  plugins: [svelte({ configFile: false })],
  build: {
    outDir: fileURLToPath(new URL('./dist-renderer', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    // A CSP without 'unsafe-inline' for scripts: never inline the module preload polyfill.
    modulePreload: { polyfill: false },
  },
  server: { fs: { allow: [fileURLToPath(new URL('.', import.meta.url))] } },
});
