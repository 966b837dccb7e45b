import { CniError } from './cni-error.js';
import { checkVersion, delegateVersion, hasCheck, hasStatusAndGc, versionBefore } from './cni-versions.js';

describe('cniVersion negotiation', () => {
  it('accepts every version from 0.1.0 to 1.1.0 and refuses others with code 1', () => {
    for (const v of ['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0']) expect(() => { checkVersion(v); }).not.toThrow();
    for (const v of ['0.5.0', '1.2.0', '2.0.0', '1.0', '']) {
      try {
        checkVersion(v);
        throw new Error(`accepted ${v}`);
      } catch (err) {
        expect((err as CniError).code).toBe(1);
      }
    }
  });

  it('orders versions numerically', () => {
    expect(versionBefore('0.3.1', '0.4.0')).toBe(true);
    expect(versionBefore('0.10.0', '0.4.0')).toBe(false);
    expect(versionBefore('1.0.0', '1.0.0')).toBe(false);
  });

  it('delegates 1.1.0 as 1.0.0 (Debian\'s plugins stop at 1.0.0), others unchanged', () => {
    expect(delegateVersion('1.1.0')).toBe('1.0.0');
    expect(delegateVersion('0.3.1')).toBe('0.3.1');
    expect(delegateVersion('0.2.0')).toBe('0.2.0');
  });

  it('knows where CHECK, STATUS and GC exist', () => {
    expect(['0.2.0', '0.3.1', '0.4.0', '1.0.0'].map(hasCheck)).toEqual([false, false, true, true]);
    expect(['1.0.0', '1.1.0'].map(hasStatusAndGc)).toEqual([false, true]);
  });
});
