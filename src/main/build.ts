// Bundles the desktop shell for Electron (which runs JavaScript, not TypeScript): dist/main/main.js
// (ES module; Electron, ws and zod stay imports from node_modules) and dist/main/preload.cjs (one
// CommonJS file with zod inside: a sandboxed preload can load only Electron's own modules).
// Run by `tandem start` before it launches Electron, and as a script by `npm run dist`
// (`node --import tsx src/main/build.ts`); uses Vite's build API (a dev dependency).
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const SHELL_DIR = join(ROOT, 'dist/main');

export async function buildShell(outDir = SHELL_DIR): Promise<{ main: string; preload: string }> {
  const { build } = await import('vite');
  const common = { configFile: false, root: ROOT, logLevel: 'warn', publicDir: false } as const;
  await build({
    ...common,
    build: {
      ssr: join(ROOT, 'src/main/main.ts'),
      outDir,
      emptyOutDir: false,
      target: 'node20',
      minify: false,
      sourcemap: true,
      rolldownOptions: {
        external: ['electron'],
        output: { format: 'es', entryFileNames: 'main.js' },
      },
    },
  });
  await build({
    ...common,
    build: {
      outDir,
      emptyOutDir: false,
      target: 'es2022',
      minify: false,
      sourcemap: true,
      copyPublicDir: false,
      lib: {
        entry: join(ROOT, 'src/main/preload.ts'),
        formats: ['cjs'],
        fileName: () => 'preload.cjs',
      },
      rolldownOptions: { external: ['electron'] },
    },
  });
  return { main: join(outDir, 'main.js'), preload: join(outDir, 'preload.cjs') };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { main, preload } = await buildShell();
  console.log(`built ${main} and ${preload}`);
}
