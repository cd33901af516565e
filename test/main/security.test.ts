import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  contentSecurityPolicy,
  type CspSession,
  denyPermissions,
  type GuardedContents,
  guardNavigation,
  installCsp,
  sameOrigin,
  secureWebPreferences,
} from '../../src/main/security.ts';
import { FakeSession, FakeWebContents, navigation } from './fakes.ts';

const ORIGIN = 'http://127.0.0.1:7420';

describe('desktop shell security', () => {
  it('web preferences: isolated, sandboxed, no Node, the preload only', () => {
    const prefs = secureWebPreferences('/app/dist/main/preload.cjs');
    assert.equal(prefs.contextIsolation, true);
    assert.equal(prefs.sandbox, true);
    assert.equal(prefs.nodeIntegration, false);
    assert.equal(prefs.nodeIntegrationInWorker, false);
    assert.equal(prefs.nodeIntegrationInSubFrames, false);
    assert.equal(prefs.webSecurity, true);
    assert.equal(prefs.allowRunningInsecureContent, false);
    assert.equal(prefs.webviewTag, false);
    assert.equal(prefs.preload, '/app/dist/main/preload.cjs');
  });

  it('the CSP allows only the studio itself: no eval, no inline script, no other socket', () => {
    const csp = contentSecurityPolicy(`${ORIGIN}/`);
    const directives = new Map(
      csp.split('; ').map((d) => {
        const [name, ...values] = d.split(' ');
        return [name!, values];
      }),
    );
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    assert.deepEqual(directives.get('script-src'), ["'self'"]);
    assert.deepEqual(directives.get('connect-src'), ["'self'", 'ws://127.0.0.1:7420']);
    assert.deepEqual(directives.get('object-src'), ["'none'"]);
    assert.deepEqual(directives.get('frame-ancestors'), ["'none'"]);
    assert.deepEqual(directives.get('base-uri'), ["'none'"]);
    assert.ok(!csp.includes('unsafe-eval'));
    assert.ok(!/script-src[^;]*unsafe-inline/.test(csp));
    assert.throws(() => contentSecurityPolicy('file:///app/index.html'), /http/);
  });

  it('installCsp sets the header on every response, replacing the server’s own', () => {
    const session = new FakeSession();
    installCsp(session as unknown as CspSession, "default-src 'none'");
    const headers = session.respond({
      'content-type': ['text/html'],
      'content-security-policy': ['default-src *'],
    });
    assert.deepEqual(headers, {
      'content-type': ['text/html'],
      'Content-Security-Policy': ["default-src 'none'"],
    });
    assert.deepEqual(session.respond({}), { 'Content-Security-Policy': ["default-src 'none'"] });
  });

  it('denies every permission', () => {
    const session = new FakeSession();
    denyPermissions(session as unknown as Parameters<typeof denyPermissions>[0]);
    let granted: boolean | undefined;
    session.permissionRequest!({}, 'media', (ok) => (granted = ok));
    assert.equal(granted, false);
    assert.equal(session.permissionCheck!(), false);
  });

  it('no new windows, no navigation off the studio, no webviews', () => {
    const contents = new FakeWebContents();
    guardNavigation(contents as unknown as GuardedContents, ORIGIN);
    assert.deepEqual(contents.openHandler!({ url: 'https://example.com/' }), { action: 'deny' });
    const away = navigation('https://example.com/');
    contents.emit('will-navigate', away);
    assert.equal(away.prevented, true);
    const otherPort = navigation('http://127.0.0.1:9999/');
    contents.emit('will-redirect', otherPort);
    assert.equal(otherPort.prevented, true);
    const home = navigation(`${ORIGIN}/#review`);
    contents.emit('will-navigate', home);
    assert.equal(home.prevented, false);
    const webview = navigation('');
    contents.emit('will-attach-webview', webview);
    assert.equal(webview.prevented, true);
  });

  it('sameOrigin compares scheme, host and port', () => {
    assert.ok(sameOrigin(`${ORIGIN}/x?y`, `${ORIGIN}/`));
    assert.ok(!sameOrigin('http://localhost:7420/', ORIGIN));
    assert.ok(!sameOrigin('not a url', ORIGIN));
  });
});
