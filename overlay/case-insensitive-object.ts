// A JSON object whose fields are read without regard to case, as Go's encoding/json does for flannel's
// config files; a wrong-typed field is a ConfigError that names it.
import { ConfigError } from '../subnet/errors.js';

export class CaseInsensitiveObject {
  private readonly entries = new Map<string, unknown>();

  constructor(
    raw: unknown,
    private readonly path: string,
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new ConfigError(path, 'must be a JSON object like {"Network":"10.244.0.0/16"}');
    }
    for (const [key, value] of Object.entries(raw)) this.entries.set(key.toLowerCase(), value);
  }

  private field(name: string): string {
    return this.path === 'net-conf.json' ? name : `${this.path}.${name}`;
  }

  private get(name: string): unknown {
    const value = this.entries.get(name.toLowerCase());
    return value === null ? undefined : value;
  }

  /** Whether the field is there with a value other than null. */
  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  string(name: string): string | undefined {
    const value = this.get(name);
    if (value === undefined || typeof value === 'string') return value;
    throw new ConfigError(this.field(name), `must be a string, got ${JSON.stringify(value)}`);
  }

  integer(name: string): number | undefined {
    const value = this.get(name);
    if (value === undefined || (typeof value === 'number' && Number.isInteger(value))) return value;
    throw new ConfigError(this.field(name), `must be a whole number, got ${JSON.stringify(value)}`);
  }

  boolean(name: string): boolean | undefined {
    const value = this.get(name);
    if (value === undefined || typeof value === 'boolean') return value;
    throw new ConfigError(this.field(name), `must be true or false, got ${JSON.stringify(value)}`);
  }

  object(name: string): CaseInsensitiveObject | undefined {
    const value = this.get(name);
    return value === undefined ? undefined : new CaseInsensitiveObject(value, this.field(name));
  }
}
