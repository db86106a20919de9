import type { ChildProcess } from 'node:child_process';
import type { PeopleChannel, ToolDecision } from '../driver.ts';

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * The CLI's stdin in stream-json mode (shared/protocols/agent-cli.md §1.4): the prompt, people's
 * messages, and the answers to the CLI's permission requests. A message written while the agent
 * works reaches its next model request; one written as a turn ends starts another turn. The input
 * closes once a turn ends with nothing more to say, and the CLI exits after the turns it has read.
 */
export class AgentInput {
  readonly #child: ChildProcess;
  readonly #people: PeopleChannel | undefined;
  #open = true;
  #deliveries: Promise<void> = Promise.resolve();
  readonly #answers = new Set<Promise<void>>();
  /** Tool calls a person denied (their tool_use ids): not the agent's failure. */
  readonly deniedByPerson = new Set<string>();

  constructor(child: ChildProcess, people: PeopleChannel | undefined) {
    this.#child = child;
    this.#people = people;
    child.stdin?.on('error', () => {}); // the CLI may exit before reading everything
  }

  send(message: Json): void {
    if (this.#open) this.#child.stdin?.write(`${JSON.stringify(message)}\n`);
  }

  /**
   * Passes on the messages people sent (one delivery at a time, so none overtakes another); with
   * `closeIfNone` the input ends when there were none.
   */
  deliver({ closeIfNone }: { closeIfNone: boolean }): void {
    this.#deliveries = this.#deliveries.then(async () => {
      if (!this.#open) return;
      const texts = this.#people ? await this.#people.takeMessages().catch(() => []) : [];
      for (const text of texts) this.send({ type: 'user', message: { role: 'user', content: text } });
      if (closeIfNone && texts.length === 0) this.close();
    });
  }

  /**
   * Answers a control request. A permission request (`can_use_tool`) goes to the policy or a
   * person; `pending` holds it meanwhile, so the watchdog knows the agent waits for someone and the
   * CLI can withdraw it. `input` is the tool input as the CLI sent it, for `updatedInput`;
   * `request.input` may have been scrubbed of secrets for storing.
   */
  answer(request: Json, input: unknown, pending: Map<string, AbortController>): void {
    const answered = this.#answer(request, input, pending);
    this.#answers.add(answered);
    void answered.finally(() => this.#answers.delete(answered));
  }

  async #answer(request: Json, input: unknown, pending: Map<string, AbortController>): Promise<void> {
    const id = String(request.request_id);
    const body = isObject(request.request) ? request.request : {};
    if (body.subtype !== 'can_use_tool' || !this.#people) {
      const error = `the supervisor does not handle ${String(body.subtype)} requests`;
      this.send({ type: 'control_response', response: { subtype: 'error', request_id: id, error } });
      return;
    }
    const controller = new AbortController();
    pending.set(id, controller);
    let decision: ToolDecision;
    try {
      decision = await this.#people.decide(
        { tool: String(body.tool_name), input: body.input },
        controller.signal,
      );
    } catch (error) {
      decision = {
        allow: false,
        message: `The supervisor could not decide on this tool call (${(error as Error).message}), so it was not run.`,
      };
    } finally {
      pending.delete(id);
    }
    if (!decision.allow && decision.byPerson && typeof body.tool_use_id === 'string') {
      this.deniedByPerson.add(body.tool_use_id);
    }
    this.send({
      type: 'control_response',
      response: {
        subtype: 'success',
        request_id: id,
        response: decision.allow
          ? { behavior: 'allow', updatedInput: input }
          : { behavior: 'deny', message: decision.message },
      },
    });
  }

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#child.stdin?.end();
  }

  /** Resolves once every delivery and answer in flight is done. */
  async settled(): Promise<void> {
    await Promise.all([this.#deliveries, ...this.#answers]);
  }
}
