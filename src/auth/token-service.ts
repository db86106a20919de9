import { randomUUID } from 'node:crypto';
import { and, asc, eq, isNull, sql } from 'drizzle-orm';
import { appendAudit } from '../audit/audit-log.ts';
import { AppError } from '../core/errors.ts';
import type { Db } from '../store/database.ts';
import { type ApiTokenRow, apiTokens, taskAttempts, tasks } from '../store/schema.ts';
import type { Principal, Role } from './roles.ts';
import { TASK_TOKEN_PREFIX, type TaskTokens } from './task-token.ts';
import { displayPrefix, generateToken, hashToken, looksLikeToken } from './token-secret.ts';

/** What a caller with a dead token should do. */
const ASK_FOR_A_TOKEN = 'ask an admin for a new one (supervisor tokens create)';
/** Serialises the first-start admin token, so two API replicas starting together create one. */
const BOOTSTRAP_LOCK_KEY = 7_020_424_615;
/** `last_used_at` is written at most this often per token, so reads do not each cost a write. */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface NewToken {
  name: string;
  role: Role;
  expiresAt?: Date;
}

/** API tokens: creation (the value is returned once), listing, revocation and authentication. */
export class TokenService {
  readonly #db: Db;
  readonly #now: () => Date;
  readonly #taskTokens: TaskTokens | undefined;

  /** `taskTokens`: also accept the task tokens agents' memory tools use. */
  constructor(deps: { db: Db; now: () => Date; taskTokens?: TaskTokens }) {
    this.#db = deps.db;
    this.#now = deps.now;
    this.#taskTokens = deps.taskTokens;
  }

  async create(request: NewToken, actor: string): Promise<{ token: string; row: ApiTokenRow }> {
    const now = this.#now();
    if (request.expiresAt && request.expiresAt <= now) {
      throw new AppError('validation_failed', 'expires_at is in the past; give a future time');
    }
    const token = generateToken();
    const row = await this.#db.transaction(async (tx) => {
      const [row] = await tx
        .insert(apiTokens)
        .values({
          id: randomUUID(),
          name: request.name,
          role: request.role,
          tokenHash: hashToken(token),
          prefix: displayPrefix(token),
          createdBy: actor,
          createdAt: now,
          expiresAt: request.expiresAt ?? null,
        })
        .returning();
      await appendAudit(tx, {
        at: now,
        actor,
        action: 'token.created',
        details: { tokenId: row!.id, name: request.name, role: request.role },
      });
      return row!;
    });
    return { token, row };
  }

  list(): Promise<ApiTokenRow[]> {
    return this.#db.select().from(apiTokens).orderBy(asc(apiTokens.createdAt), asc(apiTokens.id));
  }

  async revoke(id: string, actor: string): Promise<ApiTokenRow> {
    return this.#db.transaction(async (tx) => {
      const now = this.#now();
      const [row] = await tx
        .update(apiTokens)
        .set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, ${now})` })
        .where(eq(apiTokens.id, id))
        .returning();
      if (!row) throw new AppError('token_not_found', `no API token with id ${id}`);
      await appendAudit(tx, {
        at: now,
        actor,
        action: 'token.revoked',
        details: { tokenId: id, name: row.name },
      });
      return row;
    });
  }

  /** Records a refused request (401 or 403) in the audit trail. The token itself is never kept. */
  async recordRefusal(entry: {
    actor: string;
    action: string;
    details: Record<string, unknown>;
  }): Promise<void> {
    await this.#db.transaction((tx) => appendAudit(tx, { ...entry, at: this.#now() }));
  }

  /** The caller a bearer token stands for, or a 401 that says what is wrong with it. */
  async authenticate(token: string): Promise<Principal> {
    if (token.startsWith(TASK_TOKEN_PREFIX) && this.#taskTokens)
      return this.#authenticateTask(token, this.#taskTokens);
    if (!looksLikeToken(token)) {
      throw new AppError('unauthorized', 'the bearer token is not a supervisor API token (sv_…)');
    }
    const [row] = await this.#db
      .select()
      .from(apiTokens)
      .where(eq(apiTokens.tokenHash, hashToken(token)))
      .limit(1);
    if (!row) throw new AppError('unauthorized', `the bearer token is unknown; ${ASK_FOR_A_TOKEN}`);
    const now = this.#now();
    if (row.revokedAt) {
      throw new AppError(
        'unauthorized',
        `the bearer token was revoked on ${row.revokedAt.toISOString()}; ${ASK_FOR_A_TOKEN}`,
      );
    }
    if (row.expiresAt && row.expiresAt <= now) {
      throw new AppError(
        'unauthorized',
        `the bearer token expired on ${row.expiresAt.toISOString()}; ${ASK_FOR_A_TOKEN}`,
      );
    }
    if (!row.lastUsedAt || now.getTime() - row.lastUsedAt.getTime() > LAST_USED_RESOLUTION_MS) {
      await this.#db.update(apiTokens).set({ lastUsedAt: now }).where(eq(apiTokens.id, row.id));
    }
    return { name: row.name, role: row.role, tokenId: row.id };
  }

  /** A task token is good while its attempt runs: the agent holding it is still at work. */
  async #authenticateTask(token: string, taskTokens: TaskTokens): Promise<Principal> {
    const verdict = taskTokens.verify(token, this.#now());
    if (!verdict.ok) throw new AppError('unauthorized', verdict.reason);
    const [task] = await this.#db
      .select({ status: tasks.status, attemptEnded: taskAttempts.endedAt })
      .from(tasks)
      .innerJoin(taskAttempts, eq(taskAttempts.id, verdict.scope.attemptId))
      .where(and(eq(tasks.id, verdict.scope.taskId), eq(taskAttempts.taskId, verdict.scope.taskId)))
      .limit(1);
    if (task?.status !== 'running' || task.attemptEnded !== null) {
      throw new AppError('unauthorized', 'the task token belongs to an attempt that is no longer running');
    }
    return { name: `task:${verdict.scope.taskId}`, role: 'submitter', tokenId: null, scope: verdict.scope };
  }

  /**
   * Makes sure an admin can get in. With `configured` (ADMIN_TOKEN), that token is registered;
   * otherwise, when no usable admin token exists, one is created and returned to be shown once.
   */
  async ensureAdmin(configured: string | undefined): Promise<string | undefined> {
    return this.#db.transaction(async (tx) => {
      await tx.execute(sql`select pg_advisory_xact_lock(${BOOTSTRAP_LOCK_KEY})`);
      const now = this.#now();
      if (configured) {
        const hash = hashToken(configured);
        const [known] = await tx.select().from(apiTokens).where(eq(apiTokens.tokenHash, hash)).limit(1);
        if (!known) {
          await tx.insert(apiTokens).values({
            id: randomUUID(),
            name: 'admin',
            role: 'admin',
            tokenHash: hash,
            prefix: displayPrefix(configured),
            createdBy: 'ADMIN_TOKEN',
            createdAt: now,
          });
        } else if (known.revokedAt) {
          // Revoking it in the database wins over the configuration: say so rather than revive it.
          throw new Error(
            'ADMIN_TOKEN was revoked through the API; set a new ADMIN_TOKEN, or unset it to have one created',
          );
        }
        return undefined;
      }
      const admins = await tx
        .select({ id: apiTokens.id, expiresAt: apiTokens.expiresAt })
        .from(apiTokens)
        .where(and(eq(apiTokens.role, 'admin'), isNull(apiTokens.revokedAt)));
      if (admins.some((admin) => !admin.expiresAt || admin.expiresAt > now)) return undefined;
      const token = generateToken();
      const id = randomUUID();
      await tx.insert(apiTokens).values({
        id,
        name: 'admin',
        role: 'admin',
        tokenHash: hashToken(token),
        prefix: displayPrefix(token),
        createdBy: 'first start',
        createdAt: now,
      });
      await appendAudit(tx, {
        at: now,
        actor: 'supervisor',
        action: 'token.created',
        details: { tokenId: id, name: 'admin', role: 'admin', reason: 'no usable admin token existed' },
      });
      return token;
    });
  }
}
