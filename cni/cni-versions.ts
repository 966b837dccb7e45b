// The CNI spec versions weft speaks, and how it talks to delegates that stop at 1.0.0 (Debian's
// plugins 1.1.1 accept 0.1.0 ... 1.0.0): a 1.1.0 request is delegated as 1.0.0, whose result
// format 1.1.0 only extends with optional fields.
import { CniCode, CniError } from './cni-error.js';

export const SUPPORTED_VERSIONS = ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
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

/** "0.4.0" -> [0, 4, 0]; anything unparsable sorts first. */
function parts(version: string): number[] {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : [0, 0, 0];
}

/** a < b as semantic versions (major.minor.patch only). */
export function versionBefore(a: string, b: string): boolean {
  const [pa, pb] = [parts(a), parts(b)];
  for (let i = 0; i < 3; i++) {
    const [x = 0, y = 0] = [pa[i], pb[i]];
    if (x !== y) return x < y;
  }
  return false;
}

/** The version to ask the delegate for. */
export function delegateVersion(version: string): string {
  return version === '1.1.0' ? '1.0.0' : version;
}

/** CHECK exists from 0.4.0 on. */
export function hasCheck(version: string): boolean {
  return !versionBefore(version, '0.4.0');
}

/** STATUS and GC exist from 1.1.0 on. */
export function hasStatusAndGc(version: string): boolean {
  return !versionBefore(version, '1.1.0');
}
