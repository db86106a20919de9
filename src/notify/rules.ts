import { ALERT_KINDS } from './alerts.ts';

/** What routes can name: the alert kinds and the daily summary. */
export const ROUTABLE_KINDS = [...ALERT_KINDS, 'summary'] as const;
export type RoutableKind = (typeof ROUTABLE_KINDS)[number];

/**
 * Which kinds of alert go to which channel (NOTIFY_ROUTES), e.g.
 * `slack=*;email=agents_exhausted,agent_disabled,component_down;webhook=*`. A configured channel
 * missing from the routes gets every kind; with no routes at all, every channel gets everything.
 * Pure.
 */
export const CHANNEL_NAMES = ['slack', 'email', 'webhook'] as const;
export type ChannelName = (typeof CHANNEL_NAMES)[number];
export type Routes = ReadonlyMap<ChannelName, ReadonlySet<RoutableKind> | 'all'>;

export function parseRoutes(text: string): { routes: Routes } | { error: string } {
  const routes = new Map<ChannelName, ReadonlySet<RoutableKind> | 'all'>();
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
    const unknown = list.filter((kind) => !(ROUTABLE_KINDS as readonly string[]).includes(kind));
    if (unknown.length) {
      return {
        error: `${name}: unknown alert kind ${unknown.join(', ')} (expected ${ROUTABLE_KINDS.join(', ')} or *)`,
      };
    }
    routes.set(name as ChannelName, new Set(list as RoutableKind[]));
  }
  return { routes };
}

/** The channels (of those configured) that take alerts of `kind`. */
export function channelsFor(
  kind: RoutableKind | 'test',
  configured: readonly ChannelName[],
  routes: Routes,
): ChannelName[] {
  return configured.filter((name) => {
    const route = routes.get(name);
    return route === undefined || route === 'all' || kind === 'test' || route.has(kind);
  });
}
