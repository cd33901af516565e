import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

// The renderer is one Vite app under renderer/, built to dist/renderer and served by `tandem serve`.
export default defineConfig({
  root: 'renderer',
  base: './',
  plugins: [react()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    target: 'es2022',
  },
});
