// The WinRM client: a small API the ops layer (labops exec, heartbeat polling) can use as a port.
export { WinRMClient, WinRMFault, type WinRMClientOptions, type RunOptions, type RunResult } from './client.js';
export { clixmlToText } from './clixml.js';
export { readFilesScript, psLiteral, encodePowerShell } from './powershell.js';
export { CREDENTIAL_CAUSES, type AuthMethod } from './transport.js';
