export { SshRunner, type SshEndpoint, type SshOptions, type RemoteResult, type RunOptions, type HostKeyMode } from './client.js';
export { SshAuthFailed, SshHostKeyRejected, SshUnreachable } from './errors.js';
export { KnownHosts, appendKnownHost, fingerprint, knownHostName, parseKnownHosts, patternsMatch } from './known-hosts.js';
