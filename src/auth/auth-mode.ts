import { isIP } from 'node:net';

/** `tokens`: every API route but the probes and docs needs a token; `none`: development mode. */
export type EffectiveAuthMode = 'tokens' | 'none';

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (bare === 'localhost' || bare === '::1') return true;
  return isIP(bare) === 4 && bare.startsWith('127.');
}

/**
 * Which mode a process runs in. No-auth development mode is only for one process (`serve`) bound
 * to loopback: anything reachable from the network, or an API replica, always needs tokens.
 */
export function resolveAuthMode(
  setting: 'auto' | 'tokens' | 'none',
  host: string,
  singleProcess: boolean,
): { mode: EffectiveAuthMode } | { refused: string } {
  const allowed = singleProcess && isLoopbackHost(host);
  if (setting === 'tokens') return { mode: 'tokens' };
  if (setting === 'auto') return { mode: allowed ? 'none' : 'tokens' };
  if (allowed) return { mode: 'none' };
  return {
    refused: singleProcess
      ? `AUTH_MODE=none is refused: HOST=${host} is not a loopback address, so the API would be open to the network. Use AUTH_MODE=tokens (or auto), or bind HOST=127.0.0.1.`
      : 'AUTH_MODE=none is refused for `supervisor api`: a replica behind a load balancer is reachable from the network. Use AUTH_MODE=tokens (or auto).',
  };
}
