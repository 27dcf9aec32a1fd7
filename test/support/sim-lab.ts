// The simulated lab as `labops sim` starts it (src/app/sim.ts startLab, with the same options), and its control
// endpoint: tests ask for faults and behaviour the way an operator does, with the command line's option names and spec
// strings, instead of reaching into the simulators' objects.
import type { AppContext } from '../../src/app/context.js';
import { startLab, type Lab, type LabOptions } from '../../src/app/sim.js';
import type { BehaviourText, ControlState } from '../../src/sim/control.js';
import { randomLoopbackBase } from './services.js';

export interface SimLab extends Lab {
  /** PATCH /options: each option given replaces its value; throws with the endpoint's error on a 4xx */
  patch(options: BehaviourText): Promise<ControlState>;
  state(): Promise<ControlState>;
  /** POST /cml/change or /cml/expire-tokens */
  post(path: '/cml/change' | '/cml/expire-tokens'): Promise<unknown>;
}

/** labops sim's defaults; the base address is always one of the test's own (randomLoopbackBase) */
const LAB_DEFAULTS: Omit<LabOptions, 'baseAddress'> = {
  stations: 1,
  port: 0,
  wolPort: 0,
  bootDelay: 100,
  timeScale: 1,
  cml: 0,
  cmlLabs: 20,
  commandLatency: 0,
  powershellLatency: 0,
  control: '127.0.0.1:0',
};

export async function startSimLab(o: Partial<LabOptions> & { stateDir: string }): Promise<SimLab> {
  const lab = await startLab({ env: {} } as AppContext, { ...LAB_DEFAULTS, baseAddress: randomLoopbackBase(), ...o });
  const call = async (method: string, path: string, body?: unknown) => {
    const r = await fetch(`${lab.controlUrl}${path}`, { method, body: body === undefined ? undefined : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    const json = (await r.json()) as { error?: string };
    if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status}: ${json.error}`);
    return json;
  };
  return Object.assign(lab, {
    patch: (options: BehaviourText) => call('PATCH', '/options', options) as Promise<ControlState>,
    state: () => call('GET', '/options') as Promise<ControlState>,
    post: (path: string) => call('POST', path),
  });
}
