import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { defaultDataDir } from '../store/paths.ts';

export const CERT_FILE = 'studio-cert.pem';
export const KEY_FILE = 'studio-key.pem';
const COMMON_NAME = 'tandem-studio';

export interface StudioCertificate {
  /** PEM private key (the file is mode 0600). */
  key: string;
  /** PEM self-signed certificate. */
  cert: string;
  /** SHA-256 of the certificate's DER, colon-separated hex: what a browser shows to compare. */
  fingerprint: string;
  keyPath: string;
  certPath: string;
  /** True when this call made the certificate; false when it reused the one on disk. */
  created: boolean;
}

export interface CertificateOptions {
  /** Extra names for subjectAltName (DNS names or IP addresses) besides localhost and loopback. */
  hosts?: string[];
  /** The openssl binary: default `$TANDEM_OPENSSL`, else `openssl` on the PATH. */
  openssl?: string;
  /** Time to judge expiry by, epoch ms (default now). */
  now?: number;
}

/** Where the studio keeps its HTTPS certificate: `<data folder>/tls`. */
export function defaultCertificateDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(defaultDataDir(env), 'tls');
}

/** The subjectAltName value for the certificate: localhost, loopback, this host, and `hosts`. */
export function subjectAltName(hosts: string[] = []): string {
  const names = new Set(['localhost', '127.0.0.1', '::1', hostname(), ...hosts]);
  return [...names]
    .filter((n) => n && /^[A-Za-z0-9.:*-]+$/.test(n))
    .map((n) => (/^[\d.]+$/.test(n) || n.includes(':') ? `IP:${n}` : `DNS:${n}`))
    .join(',');
}

/**
 * The studio's self-signed HTTPS certificate (for serving beyond localhost), kept in `dir`. Made
 * with the `openssl` CLI on the first call (RSA 2048, 825 days, CN tandem-studio); reused after,
 * unless the files are unreadable, do not match or have expired, in which case it is made again.
 */
export async function ensureCertificate(
  dir: string,
  options: CertificateOptions = {},
): Promise<StudioCertificate> {
  const keyPath = join(dir, KEY_FILE);
  const certPath = join(dir, CERT_FILE);
  const now = options.now ?? Date.now();
  const existing = readExisting(keyPath, certPath, now);
  if (existing) return { ...existing, keyPath, certPath, created: false };

  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const work = mkdtempSync(join(dir, '.new-'));
  try {
    const workKey = join(work, KEY_FILE);
    const workCert = join(work, CERT_FILE);
    await runOpenssl(options.openssl ?? (process.env.TANDEM_OPENSSL || 'openssl'), [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '825',
      '-subj',
      `/CN=${COMMON_NAME}`,
      '-addext',
      `subjectAltName=${subjectAltName(options.hosts)}`,
      '-keyout',
      workKey,
      '-out',
      workCert,
    ]);
    chmodSync(workKey, 0o600);
    renameSync(workKey, keyPath);
    renameSync(workCert, certPath);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const made = readExisting(keyPath, certPath, null);
  if (!made) throw new Error(`openssl made a certificate in ${dir} that cannot be read back`);
  return { ...made, keyPath, certPath, created: true };
}

/**
 * The key and certificate on disk when both are there, parse, match and (unless `now` is null)
 * are in date; else null.
 */
function readExisting(
  keyPath: string,
  certPath: string,
  now: number | null,
): { key: string; cert: string; fingerprint: string } | null {
  if (!existsSync(keyPath) || !existsSync(certPath)) return null;
  try {
    const key = readFileSync(keyPath, 'utf8');
    const cert = readFileSync(certPath, 'utf8');
    const x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) return null;
    if (now !== null && Date.parse(x509.validTo) <= now) return null;
    chmodSync(keyPath, 0o600);
    return { key, cert, fingerprint: x509.fingerprint256 };
  } catch {
    return null;
  }
}

function runOpenssl(bin: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(bin, args, { timeout: 60_000 }, (err, _stdout, stderr) => {
      if (!err) return resolve();
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return reject(
          new Error(
            `cannot make the studio's HTTPS certificate: the openssl command (${bin}) was not ` +
              'found. Install OpenSSL 1.1.1 or newer (Debian/Ubuntu: sudo apt install openssl; ' +
              'Fedora: sudo dnf install openssl; macOS: brew install openssl; Windows: the one ' +
              'in Git for Windows) and put it on the PATH, or set TANDEM_OPENSSL to its path.',
          ),
        );
      }
      const detail = String(stderr).trim().split('\n').slice(-3).join(' ');
      reject(
        new Error(
          `cannot make the studio's HTTPS certificate: ${bin} failed (${detail || err.message}); ` +
            'it needs OpenSSL 1.1.1 or newer (for -addext)',
        ),
      );
    });
  });
}
