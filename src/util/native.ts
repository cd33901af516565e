// Native modules (better-sqlite3, rclnodejs, tfjs-node) are built for one runtime's ABI
// (NODE_MODULE_VERSION): Node's for `tandem`, Electron's for code run inside Electron. Loading one
// built for the other fails with a message that names two numbers; this turns it into what the
// user needs: which runtime the module was built for, which one loads it, and the command to fix it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export interface AbiMismatch {
  /** The package whose binary it is (from the path: node_modules/NAME/…). */
  module: string;
  builtFor: number;
  required: number;
}

const MISMATCH =
  /The module '([^']+)'\s+was compiled against a different Node\.js version using\s+NODE_MODULE_VERSION (\d+)\. This version of Node\.js requires\s+NODE_MODULE_VERSION (\d+)/;

/** The facts in Node's "was compiled against a different Node.js version" error, if it is one. */
export function parseAbiMismatch(message: string): AbiMismatch | undefined {
  const m = MISMATCH.exec(message);
  if (!m) return undefined;
  const path = m[1]!.replace(/\\/g, '/');
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(path)?.[1];
  return { module: pkg ?? path, builtFor: Number(m[2]), required: Number(m[3]) };
}

/** The installed Electron's version and ABI, read from its package (no binary needed). */
export function installedElectron(): { version: string; abi: number } | undefined {
  try {
    const pkg = require.resolve('electron/package.json');
    const version = (JSON.parse(readFileSync(pkg, 'utf8')) as { version: string }).version;
    const abi = Number(readFileSync(pkg.replace(/package\.json$/, 'abi_version'), 'utf8').trim());
    return Number.isInteger(abi) ? { version, abi } : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The runtime an ABI number belongs to: "Node.js 20", "Electron 41", or the bare number when
 * nothing here knows it (node-abi, which better-sqlite3's installer brings, has the full table).
 */
export function runtimeOfAbi(abi: number): {
  runtime: 'node' | 'electron' | 'unknown';
  name: string;
} {
  if (String(abi) === process.versions.modules) {
    return { runtime: 'node', name: `Node.js ${process.versions.node.split('.')[0]}` };
  }
  const electron = installedElectron();
  if (electron?.abi === abi) {
    return { runtime: 'electron', name: `Electron ${electron.version.split('.')[0]}` };
  }
  try {
    const nodeAbi = require('node-abi') as { getTarget(abi: string, runtime: string): string };
    for (const runtime of ['node', 'electron'] as const) {
      try {
        const version = nodeAbi.getTarget(String(abi), runtime);
        const label = runtime === 'node' ? 'Node.js' : 'Electron';
        return { runtime, name: `${label} ${version.split('.')[0]}` };
      } catch {
        // not this runtime's ABI
      }
    }
  } catch {
    // node-abi not installed: say the number only
  }
  return { runtime: 'unknown', name: `an unknown runtime` };
}

/**
 * One line for the user when `err` is an ABI mismatch; undefined for any other error. `own` names
 * a binary that is not a package in node_modules (the native learner) and the command that
 * rebuilds it.
 */
export function nativeModuleProblem(
  err: unknown,
  own?: { name: string; rebuild: string },
): string | undefined {
  const mismatch = parseAbiMismatch(err instanceof Error ? err.message : String(err));
  if (!mismatch) return undefined;
  const built = runtimeOfAbi(mismatch.builtFor);
  const needed = runtimeOfAbi(mismatch.required);
  const fix = own
    ? own.rebuild
    : needed.runtime === 'electron'
      ? 'npm run rebuild:electron'
      : `npm rebuild ${mismatch.module} (run it with the Node.js that runs tandem)`;
  return (
    `${own?.name ?? mismatch.module} was built for ${built.name} (NODE_MODULE_VERSION ${mismatch.builtFor}) ` +
    `but is loaded by ${needed.name} (NODE_MODULE_VERSION ${mismatch.required}). ` +
    `Rebuild it for this runtime: ${fix}`
  );
}
