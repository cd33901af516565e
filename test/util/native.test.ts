// The ABI-mismatch message, from errors exactly as users met them (better-sqlite3 issues #1393 and
// #797, electron-egg #42): which runtime the binary was built for, which loads it, what to run.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nativeModuleProblem, parseAbiMismatch, runtimeOfAbi } from '../../src/util/native.ts';

// Electron 37 loading a binary built by Node 22 (WiseLibs/better-sqlite3#1393).
const IN_ELECTRON = `Error: The module '/Users/zhangran/develop/workspace/vscode/mushroom-app/node_modules/better-sqlite3/build/Release/better_sqlite3.node'
was compiled against a different Node.js version using
NODE_MODULE_VERSION 127. This version of Node.js requires
NODE_MODULE_VERSION 136. Please try re-compiling or re-installing
the module (for instance, using \`npm rebuild\` or \`npm install\`).
    at process.func [as dlopen] (node:electron/js2c/node_init:2:2617)
    at Module._extensions..node (node:internal/modules/cjs/loader:1855:18)`;

// Node 17 loading a binary built by Node 14 (WiseLibs/better-sqlite3#797).
const IN_NODE = `Error: The module '/home/container/node_modules/better-sqlite3/build/Release/better_sqlite3.node'
was compiled against a different Node.js version using
NODE_MODULE_VERSION 83. This version of Node.js requires
NODE_MODULE_VERSION 102. Please try re-compiling or re-installing
the module (for instance, using \`npm rebuild\` or \`npm install\`)`;

// A Windows path (dromara/electron-egg#42).
const ON_WINDOWS = `Error: The module '\\\\?\\C:\\Users\\ZhuQR\\Desktop\\temp\\electron-egg-master\\node_modules\\better-sqlite3\\build\\Release\\better_sqlite3.node'
was compiled against a different Node.js version using
NODE_MODULE_VERSION 93. This version of Node.js requires
NODE_MODULE_VERSION 89. Please try re-compiling or re-installing`;

describe('native module ABI mismatch', () => {
  it('reads the module and both ABI numbers, on Unix and Windows paths', () => {
    assert.deepEqual(parseAbiMismatch(IN_ELECTRON), {
      module: 'better-sqlite3',
      builtFor: 127,
      required: 136,
    });
    assert.deepEqual(parseAbiMismatch(ON_WINDOWS), {
      module: 'better-sqlite3',
      builtFor: 93,
      required: 89,
    });
    assert.equal(parseAbiMismatch('Error: Cannot find module better-sqlite3'), undefined);
  });

  it('names the runtimes and the fix: rebuild for Electron when Electron loads it', () => {
    assert.equal(
      nativeModuleProblem(new Error(IN_ELECTRON)),
      'better-sqlite3 was built for Node.js 22 (NODE_MODULE_VERSION 127) but is loaded by ' +
        'Electron 37 (NODE_MODULE_VERSION 136). Rebuild it for this runtime: npm run rebuild:electron',
    );
    assert.equal(
      nativeModuleProblem(new Error(IN_NODE)),
      'better-sqlite3 was built for Node.js 14 (NODE_MODULE_VERSION 83) but is loaded by ' +
        'Node.js 17 (NODE_MODULE_VERSION 102). Rebuild it for this runtime: ' +
        'npm rebuild better-sqlite3 (run it with the Node.js that runs tandem)',
    );
    assert.match(
      nativeModuleProblem(ON_WINDOWS) ?? '',
      /built for Node\.js 16 .* loaded by Electron 13/,
    );
    assert.equal(nativeModuleProblem(new Error('SQLITE_BUSY: database is locked')), undefined);
  });

  it('names a binary outside node_modules, with its own rebuild command, when told', () => {
    const own = IN_NODE.replace(
      '/home/container/node_modules/better-sqlite3/build/Release/better_sqlite3.node',
      '/home/container/native/build/Release/tandem_learner.node',
    );
    const message = nativeModuleProblem(new Error(own), {
      name: 'the native learner',
      rebuild: 'npm run build:native',
    });
    assert.match(message ?? '', /^the native learner was built for .*\(NODE_MODULE_VERSION 83\)/);
    assert.match(message ?? '', /Rebuild it for this runtime: npm run build:native$/);
  });

  it('knows this Node and the installed Electron without any table', () => {
    assert.deepEqual(runtimeOfAbi(Number(process.versions.modules)), {
      runtime: 'node',
      name: `Node.js ${process.versions.node.split('.')[0]}`,
    });
    assert.deepEqual(runtimeOfAbi(145), { runtime: 'electron', name: 'Electron 41' });
  });
});
