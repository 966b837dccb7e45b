// Keeps the firewall rules in place: installs them once at start-up (a failure there is fatal: a
// node without masquerade silently breaks pods' outside traffic), then checks every resync period
// and restores what is missing, retrying failures with capped backoff.
import type { Logger } from 'winston';
import { Backoff, abortableSleep } from '../../subnet/backoff.js';
import type { Firewall } from './firewall.js';

export interface FirewallStatus {
  installed: boolean;
  repairs: number;
  lastError: string | undefined;
}

export class FirewallKeeper {
  readonly status: FirewallStatus = { installed: false, repairs: 0, lastError: undefined };
  private readonly repairListeners: ((problems: string[]) => void)[] = [];

  constructor(
    private firewall: Firewall,
    private readonly resyncMs: number,
    private readonly logger: Logger,
  ) {}

  onRepair(listener: (problems: string[]) => void): void {
    this.repairListeners.push(listener);
  }

  /** The first install; throws when the tools are missing or refuse the rules. */
  async install(): Promise<void> {
    await this.firewall.ensure();
    this.status.installed = true;
    this.logger.info(`${this.firewall.kind} rules installed`);
  }

  /** Switches to rules for a new lease (our subnet changed) and installs them at once. */
  async replace(firewall: Firewall): Promise<void> {
    this.firewall = firewall;
    await this.install();
  }

  /** Checks and repairs until the signal aborts. */
  async run(signal: AbortSignal): Promise<void> {
    const backoff = new Backoff({ initialMs: this.resyncMs, maxMs: Math.max(this.resyncMs, 60_000) });
    let delayMs = this.resyncMs;
    for (;;) {
      const stopped = await abortableSleep(delayMs, signal).then(() => false, () => true);
      if (stopped) return;
      try {
        const problems = await this.firewall.ensure();
        this.status.installed = true;
        this.status.lastError = undefined;
        if (problems.length > 0) {
          this.status.repairs += 1;
          this.logger.warn('restored firewall rules', { problems });
          for (const listener of this.repairListeners) listener(problems);
        }
        backoff.reset();
        delayMs = this.resyncMs;
      } catch (err) {
        this.status.lastError = (err as Error).message;
        delayMs = backoff.next();
        this.logger.warn(`checking firewall rules failed, retrying in ${delayMs} ms: ${(err as Error).message}`);
      }
    }
  }
}
