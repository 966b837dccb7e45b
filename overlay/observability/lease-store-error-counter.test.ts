import winston from 'winston';
import { isLeaseStoreError, leaseStoreErrorTransport } from './lease-store-error-counter.js';

describe('lease store error counting', () => {
  it.each([
    [{ level: 'warn', component: 'etcd-lease-manager', message: 'listing leases failed, retrying in 1000 ms: unavailable' }, true],
    [{ level: 'error', component: 'kube-lease-manager', message: 'could not take a lease again: x' }, true],
    [{ level: 'warn', component: 'etcd-lease-manager', message: 'skipping peer lease: etcd key "x": bad' }, false],
    [{ level: 'info', component: 'etcd-lease-manager', message: 'renewed subnet lease' }, false],
    [{ level: 'warn', component: 'reconcile', message: 'reconcile pass failed; will retry' }, false],
    [{ level: 'warn', message: 'no component' }, false],
  ])('%j -> %s', (info, expected) => {
    expect(isLeaseStoreError(info)).toBe(expected);
  });

  it('counts through a real logger and its child loggers', () => {
    let count = 0;
    const logger = winston.createLogger({ level: 'info', transports: [leaseStoreErrorTransport(() => { count += 1; })] });
    const etcd = logger.child({ component: 'etcd' }).child({ component: 'etcd-lease-manager' });
    etcd.warn('lease watch interrupted (etcd closed the watch stream); resuming from revision 5 in 1000 ms');
    etcd.warn('skipping peer lease: bad');
    etcd.info('leased subnet');
    logger.child({ component: 'reconcile' }).warn('reconcile pass failed; will retry');
    expect(count).toBe(1);
  });
});
