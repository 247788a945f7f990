import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { svelteTesting } from '@testing-library/svelte/vite';

// Two projects under one `vitest run`: everything in node as before, and the renderer's component tests in jsdom
// with the Svelte compiler and @testing-library/svelte's plugin (without it, mount fails with
// lifecycle_function_unavailable). The Svelte plugins stay out of the node project on purpose.
export default defineConfig({
  test: {
    testTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['test/**/*.test.ts'],
          exclude: ['test/renderer/**', '**/node_modules/**'],
          environment: 'node',
        },
      },
      {
        extends: true,
        plugins: [svelte({ configFile: false, compilerOptions: { dev: true } }), svelteTesting()],
        resolve: { conditions: ['browser'] },
        test: {
          name: 'renderer',
          include: ['test/renderer/**/*.test.ts'],
          environment: 'jsdom',
        },
      },
    ],
  },
});
