import { ALERT_KINDS, type AlertKind } from './alerts.ts';

/**
 * Which kinds of alert go to which channel (NOTIFY_ROUTES), e.g.
 * `slack=*;email=agents_exhausted,agent_disabled,component_down;webhook=*`. A configured channel
 * missing from the routes gets every kind; with no routes at all, every channel gets everything.
 * Pure.
 */
export const CHANNEL_NAMES = ['slack', 'email', 'webhook'] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];
export type Routes = ReadonlyMap<ChannelName, ReadonlySet<AlertKind> | 'all'>;

export function parseRoutes(text: string): { routes: Routes } | { error: string } {
  const routes = new Map<ChannelName, ReadonlySet<AlertKind> | 'all'>();
  for (const part of text
    .split(';')
    .map((item) => item.trim())
    .filter(Boolean)) {
    const [name, kinds = ''] = part.split('=').map((item) => item.trim());
    if (!(CHANNEL_NAMES as readonly string[]).includes(name!)) {
      return { error: `unknown channel "${name}" (expected ${CHANNEL_NAMES.join(', ')})` };
    }
    const list = kinds
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean);
    if (list.length === 0) return { error: `${name}: list the alert kinds after "=", or * for all` };
    if (list.includes('*')) {
      routes.set(name as ChannelName, 'all');
      continue;
    }
    const unknown = list.filter((kind) => !(ALERT_KINDS as readonly string[]).includes(kind));
    if (unknown.length) {
      return {
        error: `${name}: unknown alert kind ${unknown.join(', ')} (expected ${ALERT_KINDS.join(', ')} or *)`,
      };
    }
    routes.set(name as ChannelName, new Set(list as AlertKind[]));
  }
  return { routes };
}

/** The channels (of those configured) that take alerts of `kind`. */
export function channelsFor(
  kind: AlertKind | 'test',
  configured: readonly ChannelName[],
  routes: Routes,
): ChannelName[] {
  return configured.filter((name) => {
    const route = routes.get(name);
    return route === undefined || route === 'all' || kind === 'test' || route.has(kind);
  });
}
