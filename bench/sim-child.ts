// `labops sim` (the built CLI) in a process of its own, for the WinRM benchmarks: the stations get their own event
// loop and CPU, as real ones would, and the latencies are set the way an operator sets them
// (--command-latency, --powershell-latency). Its CPU time is read from /proc.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { BIN } from './lib.js';

export interface SimChild {
  inventoryPath: string;
  stations: { name: string; address: string; port: number }[];
  user: string;
  password: string;
  /** user + system CPU of the simulator process so far (ms) */
  cpuMs(): number;
  stop(): Promise<void>;
}

export async function startSimChild(o: { hosts: number; baseAddress: string; stateDir: string; commandMs: number; powershellMs: number }): Promise<SimChild> {
  const args = ['--json', 'sim', '--hosts', String(o.hosts), '--base-address', o.baseAddress, '--state-dir', o.stateDir, '--port', '0', '--powered-on', '--boot-delay', '10ms'];
  args.push('--command-latency', `${o.commandMs}ms`, '--powershell-latency', `${o.powershellMs}ms`);
  const child = spawn(process.execPath, [BIN, ...args], { env: { PATH: process.env.PATH, HOME: o.stateDir }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  let err = '';
  child.stderr.on('data', (c) => (err = (err + c).slice(-4000)));
  const doc = await new Promise<{ inventory: string; winrm: { user: string; passwordFile: string }; hosts: { name: string; address: string; port: number }[] }>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`labops sim did not start in 60 s: ${err}`)), 60_000);
    child.stdout.on('data', (c) => {
      out += c;
      try {
        const parsed = JSON.parse(out);
        clearTimeout(timer);
        resolve(parsed);
      } catch {
        // the document is not complete yet
      }
    });
    void exited.then((code) => reject(new Error(`labops sim exited (${code}): ${err}`)));
  });
  return {
    inventoryPath: doc.inventory,
    stations: doc.hosts.map((h) => ({ name: h.name, address: h.address, port: h.port })),
    user: doc.winrm.user,
    password: readFileSync(doc.winrm.passwordFile, 'utf8').trim(),
    cpuMs() {
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) * 10;
    },
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}
