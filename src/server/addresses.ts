import { networkInterfaces } from 'node:os';

/** Whether a socket's remote address is this machine (IPv4, IPv6 or IPv4-mapped loopback). */
export function isLoopback(address: string): boolean {
  return address === '::1' || /^(::ffff:)?127\.\d+\.\d+\.\d+$/.test(address);
}

/** This machine's non-internal IPv4 addresses: what a headset on the LAN connects to. */
export function lanAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined && a.family === 'IPv4' && !a.internal)
    .map((a) => a!.address);
}
