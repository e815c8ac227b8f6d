// What the kubelet's error stream says about one forwarded connection. The text is the kubelet's
// (or its container runtime's) own, e.g. containerd: "error forwarding port 9999 to pod …:
// failed to connect to localhost:9999 inside namespace …, IPv4: dial tcp4 127.0.0.1:9999:
// connect: connection refused IPv6 dial tcp6 [::1]:9999: connect: connection refused".

/**
 * Nothing listens on the pod's port: the pod is there and refused the connection (a kubelet's
 * dial: "connect: connection refused"; KWOK's fake kubelet: "forward not found for port").
 */
export function isRefusal(text: string | undefined): boolean {
  return !!text && /connect: connection refused|ECONNREFUSED|forward not found for port/.test(text);
}

/** The app took the connection and then reset it (or stopped reading): it was reached. */
export function isAppReset(text: string | undefined): boolean {
  return !!text && /connection reset by peer|broken pipe/.test(text);
}

/** The kubelet's message without its preamble (pod uid, namespace paths): what a person reads. */
export function refusalMessage(port: number, pod: string): string {
  return `nothing listens on port ${port} in pod ${pod} (connection refused inside the pod)`;
}
