export { NtlmInitiator, NtlmNegotiationError, splitUsername, type InitiatorOptions } from './initiator.js';
export { NtlmAcceptor, NtlmAuthError, type AcceptorOptions, type Accepted } from './acceptor.js';
export { SessionSecurity, NtlmIntegrityError, type Role } from './session.js';
export { NtlmFormatError } from './messages.js';
export { Flags, ENCRYPTION_FLAGS } from './constants.js';
