// The Node condition flannel sets in kube mode once routes are in place: NetworkUnavailable=False,
// reason FlannelIsUp (what kube-controller-manager's route controller or a cloud would otherwise own).
import type { KubeNode } from './kube-node-client.js';

export const NETWORK_UNAVAILABLE = 'NetworkUnavailable';

/** The nodes/status patch that sets the condition; times in RFC 3339 seconds, as the API server keeps them. */
export function networkAvailablePatch(now: Date): object {
  const at = now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const condition = {
    type: NETWORK_UNAVAILABLE,
    status: 'False',
    reason: 'FlannelIsUp',
    message: 'Flannel is running on this node',
    lastTransitionTime: at,
    lastHeartbeatTime: at,
  };
  return { status: { conditions: [condition] } };
}

/** Whether the Node carries no NetworkUnavailable condition at all (e.g. a Node registered again). */
export function lacksNetworkCondition(node: KubeNode): boolean {
  return !(node.status?.conditions ?? []).some((c) => c.type === NETWORK_UNAVAILABLE);
}
