// A dhcpd.conf the patcher cannot read safely (broken braces, unterminated strings): the run stops, the file stays.
export class DhcpdSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
  }
}
