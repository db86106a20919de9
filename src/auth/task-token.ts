import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/**
 * Task tokens: what an agent's memory tools (the API's /api/v1/mcp, or `supervisor mcp`) authenticate with. A worker issues
 * one per attempt; it is valid only for the memory routes, only for the task's repository, only
 * while that attempt runs and until it expires. Stateless (an HMAC over the claims with a key derived
 * from SECRETS_KEY, which every process shares), so issuing one costs no database write.
 * Format: `svt_<base64url claims>.<base64url signature>`.
 */
export const TASK_TOKEN_PREFIX = 'svt_';

const claimsSchema = z.strictObject({
  task: z.uuid(),
  attempt: z.uuid(),
  repository: z.string().min(1),
  commit: z.string().nullable(),
  exp: z.number().int(),
});

export interface TaskScope {
  taskId: string;
  /** The attempt the token was issued for: it stops working when that attempt ends. */
  attemptId: string;
  repository: string;
  /** The commit the task's checkout is at: notes the agent saves describe it. */
  commit: string | null;
}

export class TaskTokens {
  readonly #key: Buffer;

  constructor(secretsKey: string) {
    this.#key = Buffer.from(hkdfSync('sha256', secretsKey, 'supervisor', 'task-token-v1', 32));
  }

  issue(scope: TaskScope, expiresAt: Date): string {
    const claims = Buffer.from(
      JSON.stringify({
        task: scope.taskId,
        attempt: scope.attemptId,
        repository: scope.repository,
        commit: scope.commit,
        exp: expiresAt.getTime(),
      }),
    ).toString('base64url');
    return `${TASK_TOKEN_PREFIX}${claims}.${this.#sign(claims)}`;
  }

  /** The scope a token grants, or the reason it grants nothing. */
  verify(token: string, now: Date): { ok: true; scope: TaskScope } | { ok: false; reason: string } {
    const [claims, signature] = token.slice(TASK_TOKEN_PREFIX.length).split('.');
    if (!claims || !signature) return { ok: false, reason: 'the task token is malformed' };
    const expected = Buffer.from(this.#sign(claims));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return {
        ok: false,
        reason: 'the task token was not issued by this supervisor (or SECRETS_KEY changed)',
      };
    }
    const parsed = claimsSchema.safeParse(safeJson(Buffer.from(claims, 'base64url').toString('utf8')));
    if (!parsed.success) return { ok: false, reason: 'the task token is malformed' };
    if (parsed.data.exp <= now.getTime()) return { ok: false, reason: 'the task token has expired' };
    return {
      ok: true,
      scope: {
        taskId: parsed.data.task,
        attemptId: parsed.data.attempt,
        repository: parsed.data.repository,
        commit: parsed.data.commit,
      },
    };
  }

  #sign(claims: string): string {
    return createHmac('sha256', this.#key).update(claims).digest('base64url');
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
