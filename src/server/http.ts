import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from '../store/index.ts';

const RENDERER_DIR = fileURLToPath(new URL('../../dist/renderer/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.wasm': 'application/wasm',
  '.xml': 'application/xml',
};

/** Short paths of the built pages: the studio, and the headset's teleop page. */
const PAGES: Record<string, string> = { '/': 'index.html', '/xr': 'xr.html' };

export interface StudioServerOptions {
  store: Store;
  version: string;
  host: string;
  port: number;
  rendererDir?: string;
  /** Serve HTTPS with this key and certificate (PEM): needed for WebXR beyond localhost. */
  tls?: { key: string; cert: string };
}

/** True when the renderer has been built (`npm run build`) and can be served. */
export function rendererBuilt(dir = RENDERER_DIR): boolean {
  return existsSync(join(dir, 'index.html'));
}

/**
 * The browser host: serves the built renderer and the studio's read API over HTTP on one origin.
 * Resolves once listening; the returned server's address has the actual port (0 picks one).
 */
export async function startStudioServer(opts: StudioServerOptions): Promise<Server> {
  const root = opts.rendererDir ?? RENDERER_DIR;
  const handler: Parameters<typeof createServer>[1] = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method !== 'GET') return json(405, { error: 'only GET is served' });
      if (url.pathname === '/api/status') {
        return json(200, {
          version: opts.version,
          dbPath: opts.store.path,
          episodes: opts.store.countEpisodes(),
        });
      }
      if (url.pathname === '/api/episodes')
        return json(200, opts.store.listEpisodes({ limit: 500 }));
      if (url.pathname.startsWith('/api/'))
        return json(404, { error: `no such endpoint ${url.pathname}` });
      const page = PAGES[url.pathname] ?? url.pathname;
      const path = normalize(join(root, page));
      if (
        !path.startsWith(root.endsWith(sep) ? root : root + sep) ||
        !existsSync(path) ||
        !statSync(path).isFile()
      ) {
        res.writeHead(404, { 'content-type': 'text/plain' });
        return res.end('not found');
      }
      res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' });
      res.end(readFileSync(path));
    } catch (err) {
      json(500, { error: err instanceof Error ? err.message : String(err) });
    }
  };
  const server: Server = opts.tls ? createHttpsServer(opts.tls, handler) : createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  return server;
}
