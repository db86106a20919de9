import { readdirSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The dashboard's static files: plain HTML, CSS and JavaScript modules, no build step. */
const DASHBOARD_DIR = new URL('../../dashboard/', import.meta.url);

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * Everything the page loads comes from this server; it talks only to this server's API. No inline
 * script or style, no framing by other sites.
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};

interface Asset {
  body: Buffer;
  type: string;
}

/** Reads the dashboard's files once, at startup. */
function loadAssets(): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(DASHBOARD_DIR)) {
    const type = CONTENT_TYPES[extname(name)];
    if (type) assets.set(name, { body: readFileSync(new URL(name, DASHBOARD_DIR)), type });
  }
  return assets;
}

/**
 * `GET /` serves the dashboard; `GET /ui/<file>` its assets. The files are public (they hold no
 * data); every piece of data the page shows comes from the authenticated API.
 */
export async function dashboardRoutes(app: FastifyInstance): Promise<void> {
  const assets = loadAssets();
  const serve = (reply: FastifyReply, name: string) => {
    const asset = assets.get(name);
    reply.headers(SECURITY_HEADERS);
    if (!asset)
      return reply.status(404).type('text/plain; charset=utf-8').send(`no dashboard file ${name}\n`);
    return reply.type(asset.type).send(asset.body);
  };
  const options = { config: { access: 'public' as const }, schema: { hide: true } };
  app.get('/', options, async (_request, reply) => serve(reply, 'index.html'));
  app.get<{ Params: { file: string } }>('/ui/:file', options, async (request, reply) =>
    serve(reply, request.params.file),
  );
}
