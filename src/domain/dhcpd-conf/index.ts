export { DhcpdSyntaxError } from './errors.js';
export { scanDhcpd, type HostBlock, type DhcpdScan, type Statement } from './scan.js';
export { planNextServerPatch, type NextServerPlan, type HostPatch, type PatchAction } from './next-server-patch.js';
