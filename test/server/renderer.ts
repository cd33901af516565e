import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { rendererBuilt } from '../../src/server/http.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Builds the renderer (vite) unless dist/renderer is there: the studio serves only a built UI. */
export function ensureRendererBuilt(): void {
  if (rendererBuilt()) return;
  const build = spawnSync(
    process.execPath,
    ['node_modules/vite/bin/vite.js', 'build', '--logLevel', 'error'],
    { cwd: ROOT, encoding: 'utf8' },
  );
  assert.equal(build.status, 0, build.stderr);
}
