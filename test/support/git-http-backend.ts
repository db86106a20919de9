import { spawn } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Git's smart HTTP protocol for the bare repositories under a root (`<owner>/<repo>.git`), served
 * by git's own `git http-backend` as a CGI program: clones, fetches and pushes go through the
 * real protocol, as they do to GitHub. Who may use it is the caller's decision.
 */

/** `/<owner>/<repo>.git/...`: a request for git rather than for the REST API. */
export const GIT_PATH = /^\/[\w.-]+\/[\w.-]+\.git\//;

export function serveGit(
  root: string,
  request: IncomingMessage,
  response: ServerResponse,
  remoteUser: string,
): void {
  const url = new URL(request.url ?? '/', 'http://127.0.0.1');
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value.join(', ') : (value ?? '');
  };
  const backend = spawn('git', ['http-backend'], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      GIT_PROJECT_ROOT: root,
      GIT_HTTP_EXPORT_ALL: '1',
      // A REMOTE_USER turns receive-pack (push) on, as an authenticated GitHub user has it.
      REMOTE_USER: remoteUser,
      REMOTE_ADDR: request.socket.remoteAddress ?? '127.0.0.1',
      REQUEST_METHOD: request.method ?? 'GET',
      PATH_INFO: decodeURIComponent(url.pathname),
      QUERY_STRING: url.search.slice(1),
      CONTENT_TYPE: header('content-type'),
      ...(request.headers['content-length'] ? { CONTENT_LENGTH: header('content-length') } : {}),
      HTTP_CONTENT_ENCODING: header('content-encoding'),
      HTTP_GIT_PROTOCOL: header('git-protocol'),
    },
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const timer = setTimeout(() => backend.kill('SIGKILL'), 60_000);
  backend.on('close', () => clearTimeout(timer));
  request.pipe(backend.stdin);
  backend.stdin.on('error', () => {});

  // CGI output: headers (with an optional `Status:`), a blank line, then the body.
  let head = Buffer.alloc(0);
  let headersSent = false;
  backend.stdout.on('data', (chunk: Buffer) => {
    if (headersSent) {
      response.write(chunk);
      return;
    }
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end === -1) return;
    let status = 200;
    const headers: Record<string, string> = {};
    for (const line of head.subarray(0, end).toString('latin1').split('\r\n')) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).trim();
      const value = line.slice(colon + 1).trim();
      if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10);
      else headers[name] = value;
    }
    response.writeHead(status, headers);
    headersSent = true;
    response.write(head.subarray(end + 4));
  });
  backend.on('close', () => {
    if (!headersSent) response.writeHead(500);
    response.end();
  });
  backend.on('error', () => {
    if (!headersSent) response.writeHead(500);
    response.end();
  });
}
