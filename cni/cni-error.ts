// CNI's error result: written to stdout as {"cniVersion","code","msg","details"} with a non-zero exit.
// Codes are the spec's well-known ones (SPEC.md "Error").

export const CniCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidConfig: 7,
  tryAgainLater: 11,
  pluginNotAvailable: 50,
} as const;

export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
  ) {
    super(message);
  }

  toJson(cniVersion: string): string {
    return JSON.stringify({ cniVersion, code: this.code, msg: this.message, ...(this.details ? { details: this.details } : {}) });
  }
}
