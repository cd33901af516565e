import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { loadPairingFile, PairingFileError, PairingManager } from '../../src/server/pairing.ts';
import { tempDir } from '../cli/helpers.ts';

const T0 = 1_700_000_000_000;

/** A 6-digit code that is not the current one. */
function wrongCode(m: PairingManager): string {
  return m.code === '000000' ? '000001' : '000000';
}

function paired(m: PairingManager, clientId: string, now = T0): string {
  const result = m.pair(clientId, m.code, now);
  assert.equal(result.ok, true, JSON.stringify(result));
  return (result as { token: string }).token;
}

describe('pairing manager', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('shows a 6-digit code; the right code pairs and gives a random base64url token', () => {
    const m = new PairingManager();
    assert.match(m.code, /^\d{6}$/);
    const a = paired(m, 'quest-a');
    const b = paired(m, 'quest-b');
    assert.match(a, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(a, b);
    assert.equal(m.role(a), 'controller');
    assert.deepEqual(
      m.paired().map((p) => p.clientId),
      ['quest-a', 'quest-b'],
    );
  });

  it('a wrong code is refused and never yields a controller', () => {
    const m = new PairingManager();
    for (const code of [
      wrongCode(m),
      '',
      '12345',
      '1234567',
      'abcdef',
      ` ${m.code}`,
      `${m.code}0`,
    ]) {
      const result = m.pair('quest', code, T0);
      assert.equal(result.ok, false, code);
      assert.ok(!('token' in result));
      if (!result.ok) assert.match(result.reason, /pairing code|too many/);
    }
    for (const token of [undefined, null, '', 'made-up-token', m.code]) {
      assert.equal(m.role(token), 'watcher');
      assert.equal(m.claimControl(token ?? '', T0).ok, false);
      assert.equal(m.hasControl(token, T0), false);
    }
    assert.deepEqual(m.paired(), []);
  });

  it('rate-limits wrong codes per client: 5 a minute, then refused for a minute even with the right code', () => {
    const m = new PairingManager({ maxFailuresOverall: 1000 });
    for (let i = 0; i < 4; i++) assert.equal(m.pair('attacker', wrongCode(m), T0 + i).ok, false);
    const fifth = m.pair('attacker', wrongCode(m), T0 + 10);
    assert.equal(fifth.ok, false);
    const locked = m.pair('attacker', m.code, T0 + 20);
    assert.equal(locked.ok, false);
    if (!locked.ok) {
      assert.match(locked.reason, /too many wrong pairing codes/);
      assert.equal(locked.retryAfterMs, 60_000 - 10);
    }
    // Another client is not locked out by the first.
    assert.equal(m.pair('quest', m.code, T0 + 30).ok, true);
    // After the lockout the client may try again.
    assert.equal(m.pair('attacker', m.code, T0 + 10 + 60_000).ok, true);
  });

  it('wrong codes spread over more than the window do not lock a client out', () => {
    const m = new PairingManager({ maxFailuresOverall: 1000 });
    for (let i = 0; i < 12; i++) m.pair('slow', wrongCode(m), T0 + i * 20_000);
    assert.equal(m.pair('slow', m.code, T0 + 12 * 20_000).ok, true);
  });

  it('rotates: on demand, after each pairing, and after too many wrong codes overall', () => {
    const seen: string[] = [];
    const m = new PairingManager({ maxFailuresOverall: 10, onRotate: (c) => seen.push(c) });
    const first = m.code;
    const second = m.rotate();
    assert.notEqual(second, first);
    assert.equal(m.code, second);
    assert.equal(m.pair('quest', first, T0).ok, false, 'an old code no longer pairs');
    paired(m, 'quest', T0);
    assert.notEqual(m.code, second, 'a code pairs one headset');
    const beforeFailures = m.code;
    // The pairing's rotation started the count again: the 10th wrong code overall rotates.
    for (let i = 0; i < 9; i++) m.pair(`client-${i}`, wrongCode(m), T0);
    assert.equal(m.code, beforeFailures);
    m.pair('client-9', wrongCode(m), T0);
    assert.notEqual(m.code, beforeFailures);
    assert.deepEqual(seen.at(-1), m.code);
    assert.equal(seen.length, 3);
  });

  it('revoke, revokeId and revokeAll turn controllers into watchers', () => {
    const m = new PairingManager();
    const a = paired(m, 'a');
    const b = paired(m, 'b');
    const c = paired(m, 'c');
    assert.equal(m.revoke(a), true);
    assert.equal(m.revoke(a), false);
    assert.equal(m.role(a), 'watcher');
    assert.equal(m.role(b), 'controller');
    const idB = m.paired().find((p) => p.clientId === 'b')!.id;
    assert.equal(m.revokeId(idB), true);
    assert.equal(m.role(b), 'watcher');
    assert.equal(m.revokeId('not-an-id'), false);
    m.revokeAll();
    assert.equal(m.role(c), 'watcher');
    assert.deepEqual(m.paired(), []);
  });

  it('one controlling headset at a time', () => {
    const m = new PairingManager({ controlTimeoutMs: 5_000 });
    const a = paired(m, 'quest-a');
    const b = paired(m, 'quest-b');
    assert.deepEqual(m.claimControl(a, T0), { ok: true });
    assert.equal(m.hasControl(a, T0), true);
    assert.equal(m.controlHolder(T0), 'quest-a');
    const refused = m.claimControl(b, T0 + 1);
    assert.equal(refused.ok, false);
    if (!refused.ok) assert.match(refused.reason, /another headset has control/);
    assert.equal(m.hasControl(b, T0 + 1), false);
    assert.equal(m.releaseControl(b), false, 'b cannot release what a holds');
    assert.equal(m.hasControl(a, T0 + 1), true);

    // After a releases, b can claim; now a is refused.
    assert.equal(m.releaseControl(a), true);
    assert.equal(m.controlHolder(T0 + 2), null);
    assert.equal(m.claimControl(b, T0 + 2).ok, true);
    assert.equal(m.claimControl(a, T0 + 3).ok, false);

    // Revoking the holder frees control.
    m.revoke(b);
    assert.equal(m.hasControl(b, T0 + 4), false);
    assert.equal(m.claimControl(b, T0 + 4).ok, false, 'a revoked token cannot claim');
    assert.equal(m.claimControl(a, T0 + 4).ok, true);
  });

  it('a holder not heard from within the timeout loses control; keepAlive keeps it', () => {
    const m = new PairingManager({ controlTimeoutMs: 5_000 });
    const a = paired(m, 'quest-a');
    const b = paired(m, 'quest-b');
    assert.equal(m.claimControl(a, T0).ok, true);
    assert.equal(m.keepAlive(a, T0 + 4_000), true);
    assert.equal(m.keepAlive(b, T0 + 4_000), false);
    assert.equal(m.claimControl(b, T0 + 8_000).ok, false, 'a was heard from at +4 s');
    assert.equal(m.hasControl(a, T0 + 9_000), true);
    assert.equal(m.hasControl(a, T0 + 9_001), false);
    assert.equal(m.keepAlive(a, T0 + 9_001), false);
    assert.equal(m.claimControl(b, T0 + 9_001).ok, true);
    assert.equal(m.controlHolder(T0 + 9_001), 'quest-b');
  });

  it('persists only the tokens’ sha256 hashes (file mode 0600) and reloads them', () => {
    const file = join(tmp.dir, 'persist', 'pairing.json');
    const m = new PairingManager({ file });
    const a = paired(m, 'quest-a');
    const b = paired(m, 'quest-b');
    m.revoke(b);
    const text = readFileSync(file, 'utf8');
    assert.ok(!text.includes(a) && !text.includes(b), 'no token in the file');
    assert.ok(text.includes(createHash('sha256').update(a).digest('hex')));
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.deepEqual(
      loadPairingFile(file).map((t) => t.clientId),
      ['quest-a'],
    );

    const reloaded = new PairingManager({ file });
    assert.equal(reloaded.loadError, null);
    assert.equal(reloaded.role(a), 'controller');
    assert.equal(reloaded.role(b), 'watcher');
    assert.notEqual(reloaded.code, undefined);
    reloaded.revokeAll();
    assert.equal(new PairingManager({ file }).role(a), 'watcher');
  });

  it('a missing file starts empty without complaint', () => {
    const m = new PairingManager({ file: join(tmp.dir, 'absent', 'pairing.json') });
    assert.equal(m.loadError, null);
    assert.deepEqual(m.paired(), []);
  });

  it('a corrupt pairing file is refused with a clear error and ignored', () => {
    const cases: [string, RegExp][] = [
      ['{ not json', /is not readable JSON/],
      [JSON.stringify({ version: 2, tokens: [] }), /is not valid: version/],
      [
        JSON.stringify({
          version: 1,
          tokens: [{ hash: 'plain-token', clientId: 'x', pairedAt: 1 }],
        }),
        /is not valid: tokens\.0\.hash: a sha256 hex digest/,
      ],
    ];
    for (const [i, [text, message]] of cases.entries()) {
      const file = join(tmp.dir, `corrupt-${i}.json`);
      writeFileSync(file, text);
      assert.throws(
        () => loadPairingFile(file),
        (err: unknown) => {
          assert.ok(err instanceof PairingFileError);
          assert.match(err.message, message);
          assert.ok(err.message.includes(file));
          return true;
        },
      );
      const m = new PairingManager({ file });
      assert.match(m.loadError ?? '', message);
      assert.match(m.loadError ?? '', /starting with no paired headsets/);
      assert.deepEqual(m.paired(), []);
      assert.equal(m.role('plain-token'), 'watcher');
      // The next pairing replaces the corrupt file with a good one.
      const token = paired(m, 'quest');
      assert.equal(new PairingManager({ file }).role(token), 'controller');
    }
  });
});
