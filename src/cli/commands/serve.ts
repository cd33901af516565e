import type { AddressInfo } from 'node:net';
import { rendererBuilt, startStudioServer } from '../../server/http.ts';
import { type Command, intFlag, parse } from '../args.ts';
import { codeVersion, openStore } from '../common.ts';

const usage = `
Usage: tandem serve [--port N] [--host ADDR] [--db PATH]

Runs the studio headless and serves its UI on http://HOST:PORT (default 127.0.0.1:7420).
Stop it with Ctrl-C.
`;

export const serveOptions = {
  port: { type: 'string' },
  host: { type: 'string' },
  db: { type: 'string' },
} as const;

/** Starts the browser host and runs until SIGINT/SIGTERM; shared by `serve` and `start`. */
export async function serveStudio(values: {
  port?: string;
  host?: string;
  db?: string;
}): Promise<void> {
  if (!rendererBuilt()) {
    throw new Error('the UI is not built: run `npm run build` (npm start does it for you)');
  }
  const store = openStore(values.db);
  const host = values.host ?? '127.0.0.1';
  const server = await startStudioServer({
    store,
    version: codeVersion(),
    host,
    port: intFlag('port', values.port, 7420),
  });
  const { port } = server.address() as AddressInfo;
  console.log(`tandem studio: http://${host}:${port}/  (db ${store.path}; Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = () => server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  store.close();
}

export const serve: Command = {
  name: 'serve',
  summary: 'run the studio headless and serve its UI over HTTP',
  usage,
  async run(argv) {
    const args = parse(argv, serveOptions, usage);
    if (args) await serveStudio(args.values);
  },
};
