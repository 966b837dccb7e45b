// A failed rtnetlink request: which operation, on what, and the kernel's errno.

export class NetlinkError extends Error {
  readonly code = 'NETLINK';

  constructor(
    readonly operation: string,
    readonly object: string,
    readonly errno: string,
    options?: { cause?: unknown },
  ) {
    super(`${operation} ${object}: ${errno}`, options);
    this.name = 'NetlinkError';
  }

  static from(operation: string, object: string, cause: unknown): NetlinkError {
    const errno = (cause as { code?: unknown }).code;
    const name = typeof errno === 'string' ? errno : (cause as Error).message;
    return new NetlinkError(operation, object, name, { cause });
  }

  get isNotFound(): boolean {
    return ['ENOENT', 'ESRCH', 'ENODEV', 'EADDRNOTAVAIL'].includes(this.errno);
  }

  /** Worth retrying as is (the kernel was busy or a buffer was full). */
  get isTransient(): boolean {
    return ['EBUSY', 'EAGAIN', 'ENOBUFS', 'EINTR'].includes(this.errno);
  }
}
