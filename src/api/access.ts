import type { FastifyInstance, FastifyRequest } from 'fastify';
import { type EffectiveAuthMode, isLoopbackHost } from '../auth/auth-mode.ts';
import { type Principal, type Role, roleIncludes } from '../auth/roles.ts';
import type { TokenService } from '../auth/token-service.ts';
import { AppError } from '../core/errors.ts';
import { RateLimiter } from './rate-limit.ts';

/**
 * Who may call a route: `public`, the least role a token needs, or `task`: only a running task's
 * agent (a task token). Routes without one need `admin`.
 */
export type Access = Role | 'public' | 'task';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** Task tokens (agents' memory tools) may call this route; they may call no other. */
    taskScoped?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

/** Refused requests recorded in the audit trail per client address per minute. */
const AUDITED_REFUSALS_PER_MINUTE = 10;

/** The caller in no-auth development mode: every request is a local admin. */
export const LOCAL_PRINCIPAL: Principal = { name: 'local', role: 'admin', tokenId: null };

export interface AccessDeps {
  mode: EffectiveAuthMode;
  /** The token service, once the database is up (throws `not_ready` before). */
  tokens: () => TokenService;
  /** Browser origins allowed cross-origin (CORS_ORIGINS). */
  corsOrigins: readonly string[];
}

/**
 * Authentication and authorisation for every route, decided before the route runs. Fails closed:
 * a route that does not declare its access needs an admin. The API docs and probes are public.
 */
export function installAccessControl(app: FastifyInstance, deps: AccessDeps): void {
  // Refusals go to the audit trail, but a flood of bad requests must not flood it: a few per
  // address per minute are recorded, the rest only answered.
  const recorded = new RateLimiter(AUDITED_REFUSALS_PER_MINUTE);
  const audit = async (request: FastifyRequest, error: AppError, principal?: Principal) => {
    if (!recorded.take(request.ip, Date.now()).ok) return;
    const userAgent = request.headers['user-agent'];
    await deps
      .tokens()
      .recordRefusal({
        actor: principal?.name ?? 'anonymous',
        action: error.code === 'forbidden' ? 'auth.forbidden' : 'auth.failed',
        details: {
          reason: error.message,
          method: request.method,
          route: request.routeOptions.url ?? request.url.split('?')[0],
          ip: request.ip,
          ...(userAgent ? { userAgent: userAgent.slice(0, 200) } : {}),
        },
      })
      .catch((failure: unknown) => request.log.warn({ err: failure }, 'could not record a refused request'));
  };
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    const needed = accessOf(request);
    if (needed === 'public') return;
    let principal: Principal;
    try {
      principal = await authenticate(request, deps);
    } catch (error) {
      if (error instanceof AppError && (error.code === 'unauthorized' || error.code === 'forbidden')) {
        await audit(request, error);
      }
      throw error;
    }
    if (needed === 'task') {
      if (!principal.scope) {
        const error = new AppError(
          'forbidden',
          `${request.method} ${request.routeOptions.url} serves the memory tools of running tasks and needs their task token; people use the memory API (/api/v1/memory) or \`supervisor memory\``,
        );
        await audit(request, error, principal);
        throw error;
      }
      request.principal = principal;
      return;
    }
    if (principal.scope && !request.routeOptions.config?.taskScoped) {
      const error = new AppError(
        'forbidden',
        `${request.method} ${request.routeOptions.url} is not open to task tokens; they reach only the memory routes`,
      );
      await audit(request, error, principal);
      throw error;
    }
    if (!roleIncludes(principal.role, needed)) {
      const error = new AppError(
        'forbidden',
        `${request.method} ${request.routeOptions.url} needs the ${needed} role; the token of ${principal.name} has ${principal.role}`,
      );
      await audit(request, error, principal);
      throw error;
    }
    request.principal = principal;
  });
}

/** The authenticated caller of a route that is not public. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal)
    throw new Error(`route ${request.routeOptions.url} used principalOf without access`);
  return request.principal;
}

function accessOf(request: FastifyRequest): Access {
  const declared = request.routeOptions.config?.access;
  if (declared) return declared;
  // Swagger UI's own routes cannot carry our config; the documentation is public.
  return request.routeOptions.url?.startsWith('/docs') ? 'public' : 'admin';
}

async function authenticate(request: FastifyRequest, deps: AccessDeps): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined) {
    if (deps.mode === 'none') {
      requireLocal(request, deps.corsOrigins);
      return LOCAL_PRINCIPAL;
    }
    throw new AppError('unauthorized', 'this route needs an API token: send Authorization: Bearer <token>');
  }
  const match = /^Bearer +(\S+)$/i.exec(header);
  if (!match) throw new AppError('unauthorized', 'the Authorization header must be `Bearer <token>`');
  // A token is checked even in development mode: a wrong one is a mistake worth hearing about.
  return deps.tokens().authenticate(match[1]!);
}

/**
 * Development mode trusts local callers only. A web page the developer visits can still make the
 * browser send requests to localhost (DNS rebinding, cross-site forms), so the Host must be a
 * loopback name and a browser Origin must be local or allowed.
 */
function requireLocal(request: FastifyRequest, corsOrigins: readonly string[]): void {
  const host = hostnameOf(request.headers.host ?? '');
  if (!isLoopbackHost(host)) {
    throw new AppError(
      'forbidden',
      `development mode (AUTH_MODE=none) answers only requests to a loopback host, not ${host || '(no Host header)'}; use an API token`,
    );
  }
  const origin = request.headers.origin;
  if (
    origin !== undefined &&
    !corsOrigins.includes(origin) &&
    !isLoopbackHost(hostnameOf(originHost(origin)))
  ) {
    throw new AppError(
      'forbidden',
      `development mode (AUTH_MODE=none) refuses requests from the web page at ${origin}; use an API token`,
    );
  }
}

function originHost(origin: string): string {
  try {
    return new URL(origin).host;
  } catch {
    return '';
  }
}

function hostnameOf(host: string): string {
  return host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d+$/, '');
}
