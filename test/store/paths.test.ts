import assert from 'node:assert/strict';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { defaultDataDir, defaultDbPath } from '../../src/store/index.ts';

test('TANDEM_HOME wins over XDG_DATA_HOME', () => {
  const env = { TANDEM_HOME: '/srv/tandem', XDG_DATA_HOME: '/x/data' };
  assert.equal(defaultDataDir(env), '/srv/tandem');
  assert.equal(defaultDbPath(env), '/srv/tandem/tandem.db');
});

test('a relative TANDEM_HOME is taken from the current folder', () => {
  assert.equal(defaultDataDir({ TANDEM_HOME: 'data' }), resolve('data'));
});

test('XDG_DATA_HOME/tandem when set and absolute', () => {
  assert.equal(defaultDataDir({ XDG_DATA_HOME: '/x/data' }), '/x/data/tandem');
});

test('~/.local/share/tandem otherwise (empty or relative XDG_DATA_HOME is ignored)', () => {
  const fallback = join(homedir(), '.local', 'share', 'tandem');
  assert.equal(defaultDataDir({}), fallback);
  assert.equal(defaultDataDir({ TANDEM_HOME: '', XDG_DATA_HOME: '' }), fallback);
  assert.equal(defaultDataDir({ XDG_DATA_HOME: 'rel/data' }), fallback);
  assert.equal(defaultDbPath({}), join(fallback, 'tandem.db'));
});
