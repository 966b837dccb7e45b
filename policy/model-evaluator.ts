// Decides what the compiled model allows for one packet, the way the nftables rules do. Tests use
// it to state truth tables against the compiler, and the reachability matrix uses it for expected
// results; the kernel tests check that the nftables rules agree with it.
import { addressRange, contains } from './address-ranges.js';
import type { Allow, DirectionRules, NodePolicyModel, PodRules, Protocol } from './policy-model.js';

export interface Packet {
  src: string;
  dst: string;
  protocol: Protocol;
  port: number;
}

/**
 * Allowed unless the source pod's egress or the destination pod's ingress rules refuse it. A pod
 * talking to its own address never leaves it (loopback), so that is always allowed.
 */
export function modelAllows(models: readonly NodePolicyModel[], packet: Packet): boolean {
  if (packet.src === packet.dst) return true;
  const source = findPod(models, packet.src);
  const destination = findPod(models, packet.dst);
  return directionAllows(source?.egress, packet.dst, packet) && directionAllows(destination?.ingress, packet.src, packet);
}

function findPod(models: readonly NodePolicyModel[], ip: string): PodRules | undefined {
  for (const model of models) {
    const pod = model.pods.find((p) => p.ips.includes(ip));
    if (pod) return pod;
  }
  return undefined;
}

function directionAllows(rules: DirectionRules | undefined, peer: string, packet: Packet): boolean {
  if (rules === undefined) return true;
  const peerRange = addressRange(peer);
  return rules.allows.some((allow) => allowMatches(allow, peerRange, packet));
}

function allowMatches(allow: Allow, peer: ReturnType<typeof addressRange>, packet: Packet): boolean {
  const peerOk = allow.peers === 'any' || contains(allow.peers, peer);
  const portOk = allow.ports === 'any'
    || allow.ports.some((p) => p.protocol === packet.protocol && (p.port === undefined || p.port === packet.port));
  return peerOk && portOk;
}
