// Typed daemon options: what cmd/weftd.ts builds from flags and environment.
import type { InterfaceChoice } from './external-interface.js';

export interface EtcdStoreOptions {
  kind: 'etcd';
  endpoints: string[];
  prefix: string;
  keyFile?: string | undefined;
  certFile?: string | undefined;
  caFile?: string | undefined;
  username?: string | undefined;
  password?: string | undefined;
}

export interface KubeStoreOptions {
  kind: 'kube';
  apiUrl?: string | undefined;
  kubeconfigFile?: string | undefined;
  annotationPrefix: string;
  netConfigPath: string;
  nodeName?: string | undefined;
  podName?: string | undefined;
  podNamespace?: string | undefined;
  setNodeNetworkUnavailable: boolean;
}

export interface DaemonOptions {
  store: EtcdStoreOptions | KubeStoreOptions;
  interfaceChoice: InterfaceChoice;
  ipMasq: boolean;
  ipMasqRandomFully: boolean;
  subnetFile: string;
  renewMarginMinutes: number;
  healthzIp: string;
  healthzPort: number;
  iptablesResyncSeconds: number;
  iptablesForwardRules: boolean;
  /** Full kernel-state resync period. */
  resyncMs: number;
  /** Datapath probes per second over all peers (0: no probe). Served with the health server. */
  probeRatePerSecond: number;
}
