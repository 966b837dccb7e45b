// Errors split by what the caller does with them; branch on the class or `code`, never on text.

export abstract class WeftError extends Error {
  abstract readonly code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Invalid configuration or flags: fatal at start-up, shown to the operator as one line. */
export class ConfigError extends WeftError {
  readonly code = 'CONFIG';
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A record written by someone else (a peer's lease, a node annotation) that we cannot use: skip it. */
export class RemoteDataError extends WeftError {
  readonly code = 'REMOTE_DATA';
  constructor(
    readonly source: string,
    message: string,
  ) {
    super(`${source}: ${message}`);
  }
}

/** The store (etcd or the API server) could not be reached or refused for now: retry with backoff. */
export class TransientError extends WeftError {
  readonly code = 'TRANSIENT';
}

/** No free subnet is left in the network: fatal for this node. */
export class OutOfSubnetsError extends WeftError {
  readonly code = 'OUT_OF_SUBNETS';
}
