// What a kubeconfig resolves to: one cluster, one user and where they came from (load.ts,
// in-cluster.ts), as the credential layer (credentials.ts, exec.ts) takes them.

export interface ExecConfig {
  apiVersion: string;
  command: string;
  args: string[];
  env: { name: string; value: string }[];
  installHint?: string;
  provideClusterInfo: boolean;
  interactiveMode: 'Never' | 'IfAvailable' | 'Always';
}

export interface ClusterConfig {
  name: string;
  server: string;
  /** `server` as the kubeconfig writes it, before serverUrl(): exec plugins are handed this (client-go's Host). */
  serverAsWritten?: string;
  certificateAuthority?: string;
  certificateAuthorityData?: string;
  insecureSkipTlsVerify: boolean;
  tlsServerName?: string;
  proxyUrl?: string;
  disableCompression: boolean;
  /** extensions["client.authentication.k8s.io/exec"], handed to exec plugins with the cluster info. */
  execExtension?: unknown;
}

export interface UserConfig {
  name: string;
  token?: string;
  tokenFile?: string;
  clientCertificate?: string;
  clientCertificateData?: string;
  clientKey?: string;
  clientKeyData?: string;
  username?: string;
  password?: string;
  impersonate?: { user?: string; uid?: string; groups: string[]; extra: Record<string, string[]> };
  exec?: ExecConfig;
  /** `file`: the kubeconfig that defines this user, where refreshed tokens are written back. */
  authProvider?: { name: string; config: Record<string, string>; file?: string };
}

/** What a client needs: one cluster, one user, and where they came from (never secrets in `source`/`paths`). */
export interface ResolvedConfig {
  cluster: ClusterConfig;
  user: UserConfig;
  contextName: string;
  namespace: string;
  /** For messages: "KUBECONFIG=...", "~/.kube/config", "in-cluster service account". */
  source: string;
  /** The files read, absolute; empty for in-cluster. */
  paths: string[];
}
