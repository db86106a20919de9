/**
 * Splits a byte stream into lines, keeping a partial last line until its newline arrives, so a
 * JSON event cut across two chunks is parsed whole.
 */
export class LineSplitter {
  #pending = '';

  push(chunk: string): string[] {
    const text = this.#pending + chunk;
    const lines = text.split('\n');
    this.#pending = lines.pop() ?? '';
    return lines.filter((line) => line.trim().length > 0);
  }

  /** The unterminated rest, if the stream ended without a final newline. */
  end(): string[] {
    const rest = this.#pending;
    this.#pending = '';
    return rest.trim() ? [rest] : [];
  }
}
