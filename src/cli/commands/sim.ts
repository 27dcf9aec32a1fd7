// labops sim: start the lab simulator on loopback and keep it running until Ctrl-C or SIGTERM.
import type { Command } from 'commander';
import type { Factory } from '../factory.js';
import { durationArg, floatArg, intArg } from '../args.js';
import { helpAfter } from '../help.js';
import { act, formerly, looping, renamed } from '../action.js';
import type { LabOptions } from '../../app/sim.js';

export type SimOptions = LabOptions;

const collect = (v: string, prev: string[] = []) => [...prev, v];

const FAULT_HELP =
  'a fault rule (repeatable): <sim>.<endpoint>:<fault>[@<schedule>]. Endpoints: cml.{any,auth,system,authok,list,detail,state,topology,elements,tiles,users,groups,compute,health,stats,licensing,actions}, ' +
  'linbo.{any,get,status,retry,macct,health}, station.{any,winrm,command}. Faults: a status code (500, 503, 401, …), html[=<status>] (an HTML error page, 502), malformed (a cut-off body), hang (no answer), ' +
  'reset (connection reset), empty (cml.list: []), expire-token (cml: every token expires, 401), late=<dur> (linbo.status|retry: applied, answer held). ' +
  'Schedule (comma-separated; default every matching request): rate=<0..1>, after=<n>, times=<n>, every=<n>, from=<dur>, for=<dur>, period=<dur>; and server=<cml id>, lab=<lab id>, host=<station>, status=<linbo status>. ' +
  'E.g. cml.detail:500@rate=0.1  cml.any:hang@from=30s,for=20s  station.command:hang@times=1,host=sim-ws-003';

export function registerSim(parent: Command, f: Factory): Command {
  const cmd = looping(parent.command('sim'))
    .summary('run simulated Lab Stations on loopback for demos, tests and benchmarks')
    .description(
      'Start N simulated Lab Station hosts on consecutive 127.0.1.x addresses. Each starts powered off and ' +
        'answers nothing until a magic packet for its MAC reaches the simulator (UDP on 127.0.0.1); after the ' +
        'boot delay it serves WinRM (HTTP with NTLM and message encryption on its port, HTTPS with Basic and NTLM) backed by a LabStation.exe simulator, and writes heartbeat.json and the other station files under <state-dir>/stations/<name>/. A seed-format hosts.json for the stations is written to the ' +
        'state directory and its path printed. --cml adds simulated CML 2.9 controllers (the API v0 read endpoints client tools use, expiring tokens, labs that change), --linbo-api the LINBO internal API. ' +
        'Faults, latency and change are options (--fault, --latency, --cml-change, --cml-token-ttl, --station-fault) and can be changed while it runs through the control endpoint on loopback. ' +
        'Runs until interrupted. Nothing leaves 127.0.0.0/8.',
    )
    .option('--stations <n>', 'number of stations (formerly --hosts)', intArg(1, 60000), 10)
    .option('--base-address <ip>', 'first station address (inside 127.0.0.0/8)', '127.0.1.1')
    .option('--state-dir <dir>', 'where hosts.json and station files go (default $XDG_STATE_HOME/labops/sim)')
    .option('--port <n>', 'station service port (0 = a free port per station)', intArg(0, 65535), 5985)
    .option('--wol-port <n>', 'UDP port for magic packets (0 = a free port)', intArg(0, 65535), 0)
    .option('--boot-delay <dur>', 'time from magic packet to a running station', durationArg, 2000)
    .option('--powered-on', 'start with every station running')
    .option('--time-scale <n>', 'simulated seconds per real second on the stations (session guard grace, power delays, heartbeat tick)', floatArg, 1)
    .option('--command-latency <dur>', 'time each LabStation.exe command takes (default 0; status-json on a lab PC: about 300ms)', durationArg, 0)
    .option('--powershell-latency <dur>', 'start-up time of each powershell.exe the station runs (default 0; a lab PC: 300ms-1.5s)', durationArg, 0)
    .option('--linbo-api', 'also start the simulated LINBO Docker internal API (needs --redis-url)')
    .option('--redis-url <url>', 'Redis the simulated LINBO API queues its jobs on (redis://127.0.0.1:6379)')
    .option('--cml <n>', 'also start this many simulated CML controllers (HTTPS, self-signed)', intArg(0, 100), 0)
    .option('--cml-labs <n>', 'labs per simulated CML controller', intArg(0, 10000), 20)
    .option('--fault <spec>', FAULT_HELP, collect)
    .option('--latency <spec>', 'time each request kind takes: <sim>.<endpoint>=<dur>[-<dur>],… (a range is drawn per request; <sim>.any is the default of a simulator), e.g. cml.auth=300ms,cml.detail=20ms-80ms,station.command=300ms,station.powershell=1s,linbo.any=30ms')
    .option('--cml-change <spec>', 'how the CML labs change: every=<dur>,state=<p>,nodes=<p>,title=<p>,create=<p>,delete=<p> (per step: each lab flips state, grows or shrinks, is renamed with these probabilities; a lab is created, one deleted), or off (default every=60s scaled by --time-scale, state=0.1,nodes=0.03,title=0.03,create=0.3,delete=0.3)')
    .option('--cml-token-ttl <dur>', 'lifetime of CML tokens (default 24h); a request with an expired token is answered 401')
    .option('--station-fault <spec>', 'a station state (repeatable): <stations>:<fault>[=<value>], stations all, a name, a number or a range a-b; faults boot-delay=<dur>, winrm-down, wrong-credentials, heartbeat-missing, heartbeat-stale, heartbeat-corrupt, local-user[=<name>], local-mode', collect)
    .option('--control <addr:port>', 'the control endpoint (loopback only): GET|PATCH /options with the fault and behaviour options above as JSON, POST /cml/expire-tokens, POST /cml/change', '127.0.0.1:0')
    .option('--no-control', 'no control endpoint');
  formerly(cmd, '--hosts <n>', '--stations', intArg(1, 60000));
  act(cmd, f, (o: Omit<SimOptions, 'stations'> & { stations: number; hosts?: number }): SimOptions => {
    // --stations has a default, so the former --hosts, when given, is the operator's choice
    const { hosts, ...rest } = o;
    return { ...rest, stations: renamed(f, { flag: '--stations', value: undefined }, { flag: '--hosts', value: hosts }) ?? o.stations };
  }, runSim);
  return helpAfter(
    cmd,
    'Examples:\n  labops sim --stations 20 --state-dir /tmp/lab &\n  labops --hosts /tmp/lab/hosts.json wol --all --interval 2s\n' +
      '  labops sim --cml 2 --fault cml.detail:500@rate=0.1 --fault cml.list:html@every=5 --latency cml.any=20ms-80ms --cml-change every=10s,state=0.2\n' +
      '  labops sim --station-fault 3:winrm-down --station-fault 1-5:heartbeat-stale --station-fault all:local-user=teacher\n' +
      '  curl -X PATCH --data \'{"fault":["cml.any:hang@for=30s"]}\' http://127.0.0.1:<port>/options   # the control URL is printed at start',
  );
}

export async function runSim(f: Factory, o: SimOptions): Promise<void> {
  const { startLab } = await import('../../app/sim.js');
  const lab = await startLab(f, o);
  const { sim, cml, linbo, configPath, controlUrl } = lab;
  const first = sim.stations[0]!.spec.address;
  const last = sim.stations[sim.stations.length - 1]!.spec.address;
  if (f.io.json) {
    f.io.printJson({
      inventory: sim.inventoryPath,
      config: configPath,
      stateDir: sim.stateDir,
      winrm: { user: sim.winrmUser, passwordFile: sim.passwordFile ?? null, caFile: sim.caFile ?? null },
      heartbeatPathTemplate: sim.heartbeatPathTemplate,
      cml: cml ? cml.servers.map((s) => ({ id: s.id, url: s.url })) : [],
      linboApi: linbo ? { apiUrl: linbo.apiUrl, keyFile: lab.linboKeyFile } : null,
      control: controlUrl ?? null,
      wol: { address: sim.wolAddress, port: sim.wolPort },
      hosts: sim.stations.map((s) => ({ name: s.name, address: s.spec.address, mac: s.spec.mac, port: s.port, httpsPort: s.httpsPort, state: s.state })),
    });
  } else {
    f.io.out(sim.inventoryPath);
    f.io.out(configPath);
    f.io.info(`${sim.stations.length} simulated station(s) on ${first}–${last}, magic packets to ${sim.wolAddress}:${sim.wolPort}; WinRM user ${sim.winrmUser}, HTTPS CA ${sim.caFile}`);
    if (cml) f.io.info(`${cml.controllers.length} simulated CML controller(s): ${cml.servers.map((s) => s.url).join(', ')}`);
    if (linbo) f.io.info(`simulated LINBO API: API_URL=${linbo.apiUrl}, key in ${lab.linboKeyFile}`);
    if (controlUrl) f.io.info(`control endpoint: ${controlUrl}/options (GET, PATCH)`);
    f.io.info(`try: labops --config ${configPath} wol --all --interval 1s`);
  }
  // until Ctrl-C or SIGTERM (main's signal policy: the simulator is a loop, SIGTERM exits 0)
  await new Promise<void>((resolve) => {
    if (f.stop.aborted) return resolve();
    f.stop.addEventListener('abort', () => resolve(), { once: true });
  });
  await lab.close();
}
