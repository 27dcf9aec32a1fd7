// SSH failures as the shared typed errors: the CLI maps them to exit 3 (unreachable) and 4 (auth).
import { AuthFailed, Unreachable } from '../../domain/errors.js';

/** TCP connect refused or timed out, handshake timeout, jump host could not reach the target. */
export class SshUnreachable extends Unreachable {}
/** The server rejected every configured authentication method. */
export class SshAuthFailed extends AuthFailed {}
/** The host key is unknown (without accept-new), changed or revoked. */
export class SshHostKeyRejected extends AuthFailed {}
