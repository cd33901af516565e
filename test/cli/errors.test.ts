import assert from 'node:assert/strict';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { tandem, tempDir } from './helpers.ts';

/** A user-facing error: one line on stderr, prefixed, no stack trace, non-zero exit. */
function assertOneLineError(result: ReturnType<typeof tandem>, pattern: RegExp): void {
  assert.notEqual(result.code, 0);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line, got:\n${result.stderr}`);
  assert.match(lines[0]!, /^tandem: /);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /);
}

describe('tandem errors', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('refuses an unknown task, listing the tasks, and creates no database', () => {
    const db = join(tmp.dir, 'none.db');
    assertOneLineError(
      tandem(['record', '--task', 'sim/pick-banana', '--db', db], tmp.dir),
      /unknown task "sim\/pick-banana"; tasks: sim\/panda-lift, probe/,
    );
    assert.equal(existsSync(db), false);
  });

  it('refuses an option the task does not take and a bad value, naming the field', () => {
    assertOneLineError(
      tandem(
        ['record', '--task', 'sim/panda-lift', '--action-dim', '3', '--db', join(tmp.dir, 'x.db')],
        tmp.dir,
      ),
      /actionDim/,
    );
    assertOneLineError(
      tandem(
        ['record', '--task', 'probe', '--reward', 'nice', '--db', join(tmp.dir, 'x.db')],
        tmp.dir,
      ),
      /options\.reward/,
    );
    assertOneLineError(
      tandem(['record', '--task', 'probe', '--episodes', 'many'], tmp.dir),
      /--episodes must be a whole number/,
    );
    assertOneLineError(
      tandem(['record', '--task', 'probe', '--frobnicate'], tmp.dir),
      /Unknown option '--frobnicate'/,
    );
    assertOneLineError(tandem(['fly'], tmp.dir), /unknown command "fly"/);
  });

  it('refuses a garbage file as database in one line and leaves it untouched', () => {
    const garbage = join(tmp.dir, 'garbage.db');
    writeFileSync(
      garbage,
      'this is not a database, just some text that is long enough '.repeat(100),
    );
    const before = readFileSync(garbage);
    for (const args of [
      ['episodes', 'list'],
      ['record', '--task', 'probe', '--episodes', '1'],
    ]) {
      assertOneLineError(tandem([...args, '--db', garbage], tmp.dir), /is not a Tandem database/);
    }
    assert.deepEqual(readFileSync(garbage), before);
  });

  it('refuses a database from a newer schema with what to do, and leaves it untouched', () => {
    const future = join(tmp.dir, 'future.db');
    assert.equal(
      tandem(
        ['record', '--task', 'probe', '--episodes', '1', '--max-steps', '3', '--db', future],
        tmp.dir,
      ).code,
      0,
    );
    const db = new Database(future);
    db.pragma('user_version = 99');
    db.close();
    const before = readFileSync(future);
    assertOneLineError(
      tandem(['episodes', 'list', '--db', future], tmp.dir),
      /newer Tandem \(schema 99.*Upgrade Tandem/,
    );
    assertOneLineError(
      tandem(['record', '--task', 'probe', '--db', future], tmp.dir),
      /newer Tandem/,
    );
    assert.deepEqual(readFileSync(future), before);
  });

  it('answers --help for every command with its usage and exit code 0', () => {
    for (const cmd of [[], ['record'], ['episodes'], ['replay'], ['serve'], ['start']]) {
      const out = tandem([...cmd, '--help'], tmp.dir);
      assert.equal(out.code, 0, out.stderr);
      assert.match(out.stdout, /^Usage: tandem/);
    }
  });

  it('reports a missing episode in one line', () => {
    const db = join(tmp.dir, 'empty.db');
    assert.equal(
      tandem(
        ['record', '--task', 'probe', '--episodes', '1', '--max-steps', '3', '--db', db],
        tmp.dir,
      ).code,
      0,
    );
    assertOneLineError(tandem(['episodes', 'show', '42', '--db', db], tmp.dir), /no episode 42/);
    assertOneLineError(tandem(['replay', '42', '--db', db], tmp.dir), /no episode 42/);
  });
});
