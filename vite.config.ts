import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The renderer is one Vite app under renderer/, built to dist/renderer and served by `tandem serve`.
export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [react()],
  // `vite` (dev server): the studio's API and RPC from a running `tandem serve`.
  server: {
    proxy: {
      '/api': 'http://127.0.0.1:7420',
      '/ws': { target: 'ws://127.0.0.1:7420', ws: true },
    },
  },
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    // Two pages: the studio (index.html) and the headset's teleop page (xr.html, served at /xr).
    rollupOptions: { input: { studio: 'renderer/index.html', xr: 'renderer/xr.html' } },
    target: 'es2022',
    // One chunk, mostly three.js (about 950 kB): served from loopback, not worth a warning.
    chunkSizeWarningLimit: 1500,
  },
});
