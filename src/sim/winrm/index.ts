export { SimWinRMServer, type WinRMServerOptions, type ShellEvent } from './server.js';
export { TrivialHandler, type CommandHandler, type CommandRequest, type CommandResult } from './handler.js';
export { ensureSimCertificates, type SimCertificates } from './certs.js';
