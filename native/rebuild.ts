// `npm run rebuild:electron`: rebuilds the native modules (better-sqlite3; rclnodejs and tfjs-node
// when installed) for the installed Electron's ABI with @electron/rebuild. Only where the Electron
// binary exists: without it there is no Electron to run them in, and this says how to get one.
//
// The studio normally runs in Node (`tandem serve`, and the child process behind the desktop
// window), whose ABI differs from Electron's: after this, run `npm rebuild better-sqlite3` before
// using `tandem` under Node again. `npm run dist` needs neither: electron-builder rebuilds the
// packaged copies itself.
//
// The native learner addon (native/build/Release/tandem_learner.node, built by native/build.js) is
// not rebuilt here: it uses Node-API only, whose ABI is the same in Node and in Electron, so the
// binary `npm ci` / `npm run build:native` built loads in both.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { electronBinary } from '../src/cli/commands/start.ts';
import { installedElectron } from '../src/util/native.ts';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const NATIVE = [
  'better-sqlite3',
  'rclnodejs',
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-node-gpu',
];

type Rebuild = (options: {
  buildPath: string;
  electronVersion: string;
  onlyModules: string[];
  force: boolean;
}) => Promise<void>;

function fail(message: string): never {
  console.error(`rebuild:electron: ${message}`);
  process.exit(1);
}

async function main(): Promise<void> {
  const binary = electronBinary();
  const electron = installedElectron();
  if ('missing' in binary || !electron) {
    fail(
      'the Electron binary is not installed, so there is nothing to build for. Install it with ' +
        '`npx install-electron` (or `npm install electron` without the allowScripts deny in ' +
        'package.json), then run this again.',
    );
  }
  let rebuild: Rebuild;
  try {
    ({ rebuild } = (await import('@electron/rebuild' as string)) as { rebuild: Rebuild });
  } catch {
    fail(
      '@electron/rebuild is not installed. `npm install --save-dev @electron/rebuild` (v4 needs ' +
        'Node ≥ 22.12; on Node 20 use @electron/rebuild@3), then run this again.',
    );
  }
  const present = NATIVE.filter((name) =>
    existsSync(join(ROOT, 'node_modules', name, 'package.json')),
  );
  console.log(
    `rebuilding ${present.join(', ')} for Electron ${electron.version} ` +
      `(NODE_MODULE_VERSION ${electron.abi}; this Node is ${process.versions.modules})`,
  );
  await rebuild({
    buildPath: ROOT,
    electronVersion: electron.version,
    onlyModules: present,
    force: true,
  });
  console.log(
    `done. These modules now load only in Electron ${electron.version}: before running tandem ` +
      `under Node again, run \`npm rebuild ${present.join(' ')}\`.`,
  );
}

await main();
