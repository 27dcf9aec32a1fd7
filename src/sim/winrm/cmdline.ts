// How a Windows host turns a WinRS command line into argv: cmd.exe splits at unquoted operators (the injection
// upstream suffered from), then the program's C runtime splits words (CommandLineToArgvW rules).

/** Splits a cmd.exe line at the first unquoted & | < > (the rest is what cmd would run or redirect next). */
export function splitCmdOperators(line: string): { first: string; rest?: string } {
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') quoted = !quoted;
    else if (c === '^' && !quoted) i++;
    else if (!quoted && (c === '&' || c === '|' || c === '<' || c === '>')) {
      return { first: line.slice(0, i).trimEnd(), rest: line.slice(i).replace(/^[&|<>]+/, '').trim() };
    }
  }
  return { first: line };
}

/** CommandLineToArgvW: whitespace separates, "..." groups, 2n backslashes + " -> n backslashes and a quote toggle. */
export function commandLineToArgv(line: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  while (i < n) {
    while (i < n && (line[i] === ' ' || line[i] === '\t')) i++;
    if (i >= n) break;
    let arg = '';
    let quoted = false;
    while (i < n) {
      const c = line[i]!;
      if (!quoted && (c === ' ' || c === '\t')) break;
      if (c === '\\') {
        let k = i;
        while (k < n && line[k] === '\\') k++;
        const count = k - i;
        if (line[k] === '"') {
          arg += '\\'.repeat(Math.floor(count / 2));
          if (count % 2 === 1) {
            arg += '"';
            i = k + 1;
          } else i = k;
        } else {
          arg += '\\'.repeat(count);
          i = k;
        }
        continue;
      }
      if (c === '"') {
        if (quoted && line[i + 1] === '"') {
          arg += '"';
          i += 2;
          continue;
        }
        quoted = !quoted;
        i++;
        continue;
      }
      arg += c;
      i++;
    }
    out.push(arg);
  }
  return out;
}

/** cmd.exe drops ^ escapes outside quotes. */
export function stripCaret(s: string): string {
  let out = '';
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') quoted = !quoted;
    if (c === '^' && !quoted) {
      out += s[i + 1] ?? '';
      i++;
      continue;
    }
    out += c;
  }
  return out;
}
