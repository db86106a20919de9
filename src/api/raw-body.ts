import type { FastifyInstance } from 'fastify';

/** Makes a scope read every body as text: its routes are authenticated by a signature over the raw body. */
export function readBodiesAsText(scope: FastifyInstance): void {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser('*', { parseAs: 'string' }, (_request, body, done) => done(null, body));
}
