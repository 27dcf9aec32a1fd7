// Which loops the daemon runs, decided once at start from facts the application layer gathers: a loop runs when
// its configuration is present and the tables other systems own that it works on exist (labops' own tables it
// creates). `--only` forces loops on whatever the facts; a loop that cannot run is reported with the reason.
// The same plan answers `labops doctor` and `labops db migrate` (which parts get tables).
import type { LoopName } from '../../domain/daemon-loops.js';
import { LOOP_NAMES, SHARDED_LOOPS } from '../../domain/daemon-loops.js';
import type { Part } from '../../core/db/migrations.js';

interface LoopNeeds {
  /** the parts whose tables the loop uses (created when missing) */
  parts: readonly Part[];
  /** tables another system owns that must exist for the loop to have work */
  foreign: readonly string[];
  /** whose tables `foreign` are, for the reason */
  owner?: string;
}

const COLLECTOR = 'the SSH collector';

export const LOOP_NEEDS: Record<LoopName, LoopNeeds> = {
  api: { parts: [], foreign: [] },
  heartbeat: { parts: ['gateway'], foreign: [] },
  reservations: { parts: ['gateway'], foreign: ['lab_reservations'], owner: 'the Lab Gateway auth service' },
  provisioning: { parts: ['collector'], foreign: ['lab_sessions', 'labs', 'servers'], owner: COLLECTOR },
  cleanup: { parts: ['collector'], foreign: ['lab_sessions', 'labs', 'servers'], owner: COLLECTOR },
  servers: { parts: ['collector'], foreign: ['servers', 'server_metrics', 'alerts'], owner: COLLECTOR },
  labs: { parts: ['cml'], foreign: [] },
  'dc-jobs': { parts: [], foreign: [] },
};

/** Loops that work on the database (the others run without one). */
export function needsDatabase(n: LoopName): boolean {
  return LOOP_NEEDS[n].parts.length > 0;
}

export interface PlanFacts {
  /** --only: these loops are forced on, the others off */
  only?: readonly LoopName[];
  /** why a loop's configuration is absent; a loop not named here is configured */
  unconfigured: Partial<Record<LoopName, string>>;
  /** the tables of the database; undefined when none is open (no loop that is configured needs one) */
  tables?: ReadonlySet<string>;
  /** why there are no tables to look at (default: no database) */
  noDatabase?: string;
}

export interface PlannedLoop {
  name: LoopName;
  run: boolean;
  /** run because --only named it, though its configuration or tables are absent */
  forced: boolean;
  /** why it does not run, or (forced) what is missing */
  reason?: string;
}

function missingReason(n: LoopName, f: PlanFacts): string | undefined {
  const need = LOOP_NEEDS[n];
  const tables = f.tables;
  if (!need.foreign.length) return undefined;
  if (!tables) return f.noDatabase ?? 'no database';
  const missing = need.foreign.filter((t) => !tables.has(t));
  if (!missing.length) return undefined;
  return `the database lacks ${missing.join(', ')} (${need.owner ?? 'another system'}'s table${missing.length > 1 ? 's' : ''})`;
}

export function planLoops(f: PlanFacts): PlannedLoop[] {
  return LOOP_NAMES.map((name) => {
    const why = f.unconfigured[name] ?? missingReason(name, f);
    if (f.only) {
      if (!f.only.includes(name)) return { name, run: false, forced: false, reason: 'not named by --only' };
      return { name, run: true, forced: why !== undefined, reason: why };
    }
    return why ? { name, run: false, forced: false, reason: why } : { name, run: true, forced: false };
  });
}

/** The parts whose tables the running loops use (sharded loops add the daemon's lease table). */
export function partsOf(plan: readonly PlannedLoop[]): Part[] {
  const running = plan.filter((l) => l.run).map((l) => l.name);
  const parts = new Set<Part>(running.flatMap((n) => LOOP_NEEDS[n].parts));
  if (running.some((n) => SHARDED_LOOPS.includes(n))) parts.add('daemon');
  return [...parts];
}
