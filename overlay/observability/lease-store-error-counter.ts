// A stopgap until the lease managers report store failures through a callback: the managers log each
// failed store call (then retry) as a warning under their own component, so a winston transport that
// sees those lines can count them. Skipped remote records ("skipping peer ...") are bad data, not a
// store failure, and are not counted. The proper hook is an `onStoreError()` option on
// EtcdLeaseManager/KubeLeaseManager; this module goes away then.
import winston from 'winston';

// winston exports the class as `Transport` at run time but types it as `transport`.
const TransportBase = (winston as unknown as { Transport: new (options?: { level?: string }) => winston.transport }).Transport;

const STORE_COMPONENTS = new Set(['etcd-lease-manager', 'kube-lease-manager']);

interface LogInfo {
  level: string;
  message: unknown;
  component?: unknown;
}

export function isLeaseStoreError(info: LogInfo): boolean {
  if (info.level !== 'warn' && info.level !== 'error') return false;
  if (typeof info.component !== 'string' || !STORE_COMPONENTS.has(info.component)) return false;
  const message = typeof info.message === 'string' ? info.message : '';
  return !message.startsWith('skipping peer');
}

/** A transport to add to the daemon's logger: calls `onError` for each lease-store failure logged. */
export function leaseStoreErrorTransport(onError: () => void): winston.transport {
  class LeaseStoreErrorTransport extends TransportBase {
    override log(info: LogInfo, next: () => void): void {
      if (isLeaseStoreError(info)) onError();
      next();
    }
  }
  // Every level reaches the transport; isLeaseStoreError picks warnings and errors.
  return new LeaseStoreErrorTransport({ level: 'debug' });
}
