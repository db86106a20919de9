import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ModelApiTap } from './model-api-tap.ts';

/** The tap's body observers: what routes that read usage off responses rely on. */
describe('the model API tap reading bodies', () => {
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closers.splice(0)) await close();
  });

  /** An upstream that records the request's headers and answers with `respond`. */
  const upstream = async (
    respond: (write: (text: string) => void, end: () => void, destroy: () => void) => void,
  ) => {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((request, response) => {
      seen.push(request.headers);
      response.writeHead(200, { 'content-type': 'text/event-stream' });
      respond(
        (text) => response.write(text),
        () => response.end(),
        () => response.destroy(),
      );
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    });
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  };

  const route = async (url: string, readsBodies: boolean, chunks: string[], ends: { count: number }) => {
    const tap = new ModelApiTap();
    closers.push(() => tap.close());
    return tap.open({
      upstream: url,
      holdKey: 'k',
      readsBodies,
      onResponse: () => ({
        body: { chunk: (data) => chunks.push(data.toString()), end: () => (ends.count += 1) },
      }),
    });
  };

  it('asks for an uncompressed body when it reads bodies, and passes the client’s choice otherwise', async () => {
    const server = await upstream((write, end) => {
      write('data: {}\n\n');
      end();
    });
    for (const readsBodies of [true, false]) {
      const opened = await route(server.url, readsBodies, [], { count: 0 });
      await (await fetch(`${opened.url}/v1/x`, { headers: { 'accept-encoding': 'gzip, br' } })).text();
    }
    expect(server.seen.map((headers) => headers['accept-encoding'])).toEqual(['identity', 'gzip, br']);
  });

  it('ends the observer once when the stream is cut short, with what came before', async () => {
    const server = await upstream((write, _end, destroy) => {
      write('data: {"usage":1}\n\n');
      setTimeout(destroy, 50);
    });
    const chunks: string[] = [];
    const ends = { count: 0 };
    const opened = await route(server.url, true, chunks, ends);
    await fetch(`${opened.url}/v1/x`)
      .then((response) => response.text())
      .catch(() => undefined);
    for (let i = 0; i < 250 && ends.count === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(chunks.join('')).toBe('data: {"usage":1}\n\n');
    expect(ends.count).toBe(1);
  });
});
