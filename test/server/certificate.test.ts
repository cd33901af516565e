import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import {
  CERT_FILE,
  ensureCertificate,
  KEY_FILE,
  subjectAltName,
} from '../../src/server/certificate.ts';
import { tempDir } from '../cli/helpers.ts';

const hasOpenssl = spawnSync('openssl', ['version']).status === 0;

describe('studio HTTPS certificate (real openssl)', { skip: !hasOpenssl && 'no openssl' }, () => {
  const tmp = tempDir();
  const dir = join(tmp.dir, 'tls');
  after(() => tmp.cleanup());

  it('the first call makes a key (mode 0600) and a self-signed certificate for tandem-studio', async () => {
    const made = await ensureCertificate(dir, { hosts: ['192.168.1.20', 'studio.lan'] });
    assert.equal(made.created, true);
    assert.equal(made.keyPath, join(dir, KEY_FILE));
    assert.equal(made.certPath, join(dir, CERT_FILE));
    assert.equal(statSync(made.keyPath).mode & 0o777, 0o600);
    assert.equal(readFileSync(made.certPath, 'utf8'), made.cert);
    const x509 = new X509Certificate(made.cert);
    assert.match(x509.subject, /CN=tandem-studio/);
    assert.equal(x509.issuer, x509.subject);
    assert.equal(x509.fingerprint256, made.fingerprint);
    assert.match(made.fingerprint, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    const san = x509.subjectAltName ?? '';
    for (const name of [
      'DNS:localhost',
      'IP Address:127.0.0.1',
      'IP Address:192.168.1.20',
      'DNS:studio.lan',
    ]) {
      assert.ok(san.includes(name), `${name} in ${san}`);
    }
    assert.ok(x509.checkIssued(x509));
    assert.ok(Date.parse(x509.validTo) - Date.now() > 800 * 86_400_000);
  });

  it('the second call reuses the files (same fingerprint, key still 0600)', async () => {
    const first = readFileSync(join(dir, CERT_FILE), 'utf8');
    const again = await ensureCertificate(dir);
    assert.equal(again.created, false);
    assert.equal(again.cert, first);
    assert.equal(again.fingerprint, new X509Certificate(first).fingerprint256);
    assert.equal(statSync(again.keyPath).mode & 0o777, 0o600);
  });

  it('an unreadable certificate is made again', async () => {
    const before = await ensureCertificate(dir);
    writeFileSync(join(dir, CERT_FILE), 'not a certificate');
    const remade = await ensureCertificate(dir);
    assert.equal(remade.created, true);
    assert.notEqual(remade.fingerprint, before.fingerprint);
    assert.match(new X509Certificate(remade.cert).subject, /CN=tandem-studio/);
  });

  it('an expired certificate is made again', async () => {
    const before = await ensureCertificate(dir);
    const later = Date.parse(new X509Certificate(before.cert).validTo) + 1;
    const remade = await ensureCertificate(dir, { now: later - 1_000 });
    assert.equal(remade.created, false);
    const expired = await ensureCertificate(dir, { now: later });
    assert.equal(expired.created, true);
  });
});

describe('studio HTTPS certificate without openssl', () => {
  const tmp = tempDir();
  after(() => tmp.cleanup());

  it('says clearly how to get openssl, and leaves no files', async () => {
    const dir = join(tmp.dir, 'tls');
    await assert.rejects(
      ensureCertificate(dir, { openssl: join(tmp.dir, 'no-such-openssl') }),
      /openssl command .* was not found\. Install OpenSSL .*TANDEM_OPENSSL/s,
    );
    assert.throws(() => statSync(join(dir, KEY_FILE)), /ENOENT/);
    assert.throws(() => statSync(join(dir, CERT_FILE)), /ENOENT/);
  });

  it('subjectAltName names loopback and only plausible extra hosts', () => {
    const san = subjectAltName(['10.0.0.5', 'bad name,DNS:evil']);
    assert.match(san, /^DNS:localhost,IP:127\.0\.0\.1,IP:::1,/);
    assert.ok(san.includes('IP:10.0.0.5'));
    assert.ok(!san.includes('evil'));
  });
});
