// The CNI spec versions weft speaks, and how it talks to delegates that stop at 1.0.0 (Debian's
// plugins): a 1.1.0 request is delegated as 1.0.0, whose result format 1.1.0 kept unchanged.
import { CniCode, CniError } from './cni-error.js';

export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export const LATEST_VERSION = '1.1.0';

export function checkVersion(version: string): void {
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new CniError(
      CniCode.incompatibleVersion,
      `cniVersion "${version}" is not supported by weft`,
      `use one of ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
}

/** The version to ask the delegate for. */
export function delegateVersion(version: string): string {
  return version === '1.1.0' ? '1.0.0' : version;
}

/** CHECK exists from 0.4.0 on. */
export function hasCheck(version: string): boolean {
  return !version.startsWith('0.3.');
}

/** STATUS and GC exist from 1.1.0 on. */
export function hasStatusAndGc(version: string): boolean {
  return version === '1.1.0';
}
