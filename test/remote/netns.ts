import { spawnSync } from 'node:child_process';
import { createServer, connect, type Server, type Socket } from 'node:net';

/** A network namespace joined to this one by a veth pair: host side .1, namespace side .2. */
export interface Netns {
  name: string;
  hostAddr: string;
  nsAddr: string;
  /** Whether `tc netem` could be applied on both ends (the kernel's sch_netem). */
  netem: boolean;
  remove(): void;
}

const run = (args: string[]) => spawnSync(args[0]!, args.slice(1), { encoding: 'utf8' });

/**
 * Makes the namespace (root only), or says why it cannot: `ip netns` needs CAP_SYS_ADMIN. With
 * `netem`, each end delays by half the RTT and drops `lossPct`.
 */
export function makeNetns(
  id: number,
  netem?: { delayMs: number; lossPct: number },
): Netns | string {
  if (process.getuid?.() !== 0) return 'needs root (ip netns, veth)';
  const name = `tandem-t${id}`;
  const hostIf = `tdh${id}`;
  const nsIf = `tdn${id}`;
  const octet = 100 + (id % 100);
  const hostAddr = `10.${octet}.77.1`;
  const nsAddr = `10.${octet}.77.2`;
  const steps = [
    ['ip', 'netns', 'add', name],
    ['ip', 'netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'],
    ['ip', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf],
    ['ip', 'link', 'set', nsIf, 'netns', name],
    ['ip', 'addr', 'add', `${hostAddr}/24`, 'dev', hostIf],
    ['ip', 'link', 'set', hostIf, 'up'],
    ['ip', 'netns', 'exec', name, 'ip', 'addr', 'add', `${nsAddr}/24`, 'dev', nsIf],
    ['ip', 'netns', 'exec', name, 'ip', 'link', 'set', nsIf, 'up'],
  ];
  const remove = () => {
    run(['ip', 'link', 'del', hostIf]);
    run(['ip', 'netns', 'del', name]);
  };
  for (const s of steps) {
    const r = run(s);
    if (r.status !== 0) {
      remove();
      return `\`${s.join(' ')}\` failed: ${(r.stderr || r.error?.message || '').trim()}`;
    }
  }
  let applied = false;
  if (netem) {
    const args = ['netem', 'delay', `${netem.delayMs / 2}ms`, 'loss', `${netem.lossPct}%`];
    applied =
      run(['tc', 'qdisc', 'add', 'dev', hostIf, 'root', ...args]).status === 0 &&
      run(['ip', 'netns', 'exec', name, 'tc', 'qdisc', 'add', 'dev', nsIf, 'root', ...args])
        .status === 0;
  }
  return { name, hostAddr, nsAddr, netem: applied, remove };
}

/**
 * A TCP relay on loopback to `target`, holding every chunk `oneWayMs` in each direction (in
 * order): the RTT netem would add, where the kernel has no sch_netem. It cannot drop packets
 * (TCP under it never sees a loss).
 */
export async function delayRelay(
  target: { host: string; port: number },
  oneWayMs: number,
): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const pipe = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => setTimeout(() => to.writable && to.write(chunk), oneWayMs));
    from.on('end', () => setTimeout(() => to.end(), oneWayMs));
    from.on('error', () => to.destroy());
    from.on('close', () => setTimeout(() => to.destroy(), oneWayMs));
  };
  const server: Server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    sockets.add(client).add(upstream);
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        sockets.forEach((s) => s.destroy());
        server.close(() => resolve());
      }),
  };
}
