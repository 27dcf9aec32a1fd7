// What a simulated CML 2.9 controller holds: users and groups, labs with a topology (nodes with interfaces, links
// between interfaces) whose counts are the lab's node_count and link_count, the compute hosts the running nodes are
// placed on, and the rules of who sees what (owner, lab/group associations, admins). Bodies are built elsewhere
// (bodies.ts); this is the state and how it changes.
import { randomUUID } from 'node:crypto';
import { SimSpecError, mulberry32 } from '../faults.js';
import { parseDuration } from '../../domain/duration.js';

export type LabState = string;
export type Permission = 'lab_admin' | 'lab_edit' | 'lab_exec' | 'lab_view';

export interface SimUser {
  id: string;
  username: string;
  password: string;
  fullname: string;
  email: string;
  admin: boolean;
  /** group ids */
  groups: string[];
  created: string;
}

export interface SimGroup {
  id: string;
  name: string;
  created: string;
}

export interface SimInterface {
  id: string;
  label: string;
  type: 'physical' | 'loopback';
  slot?: number;
  mac_address: string | null;
}

export interface SimNode {
  id: string;
  label: string;
  node_definition: string;
  x: number;
  y: number;
  cpus: number;
  ram: number;
  interfaces: SimInterface[];
  /** the compute host it runs on while the lab is started */
  compute_id: string | null;
}

export interface SimLink {
  id: string;
  node_a: string;
  node_b: string;
  interface_a: string;
  interface_b: string;
  label: string;
}

export interface SimLab {
  id: string;
  created: string;
  modified: string;
  lab_title: string;
  lab_description: string;
  lab_notes: string;
  owner: string;
  owner_username: string;
  owner_fullname: string;
  state: LabState;
  node_count: number;
  link_count: number;
  /** the deprecated LabGroup view of `associations.groups` */
  groups: { id: string; permission: 'read_only' | 'read_write'; name?: string }[];
}

/** Who else may use a lab besides its owner (CML 2.9 lab associations). */
export interface LabAssociations {
  groups: { id: string; permissions: Permission[] }[];
  users: { id: string; permissions: Permission[] }[];
}

export interface SimCompute {
  id: string;
  hostname: string;
  server_address: string;
  is_connector: boolean;
  cpus: number;
  memoryBytes: number;
  diskBytes: number;
}

/** How the labs change over time (`labops sim --cml-change`): per step, each lab flips state, changes size or title with these probabilities; a lab is created and one deleted with these. */
export interface ChangeSpec {
  everyMs: number;
  state: number;
  nodes: number;
  title: number;
  create: number;
  delete: number;
}

export const DEFAULT_CHANGE: Omit<ChangeSpec, 'everyMs'> = { state: 0.1, nodes: 0.03, title: 0.03, create: 0.3, delete: 0.3 };

export const LAB_STATES = ['DEFINED_ON_CORE', 'STOPPED', 'STARTED'];
const TOPICS = ['OSPF single-area', 'BGP peering', 'IOSv feature tests', 'CSR 1000v', 'SD-WAN', 'NAT static', 'HSRP', 'DHCP relay', 'VXLAN EVPN', 'MPLS L3VPN'];
/** node definitions of a standard CML install (refplat), with the RAM and CPUs their definitions give */
const NODE_DEFS = [
  { def: 'iosv', ram: 512, cpus: 1, iface: (slot: number) => `GigabitEthernet0/${slot}`, loopback: true },
  { def: 'iosvl2', ram: 768, cpus: 1, iface: (slot: number) => `GigabitEthernet0/${slot}`, loopback: true },
  { def: 'csr1000v', ram: 3072, cpus: 1, iface: (slot: number) => `GigabitEthernet${slot + 1}`, loopback: true },
  { def: 'alpine', ram: 512, cpus: 1, iface: (slot: number) => `eth${slot}`, loopback: false },
  { def: 'unmanaged_switch', ram: 64, cpus: 1, iface: (slot: number) => `port${slot}`, loopback: false },
];

/** CML writes `2021-02-28T07:33:47+00:00`. */
export const cmlTime = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}+00:00`;

/** `every=30s,state=0.2,nodes=0.05,title=0,create=0.1,delete=0.1`, or `off`; unnamed rates keep their defaults. */
export function parseChange(spec: string, defaultEveryMs: number, option = '--cml-change'): ChangeSpec | undefined {
  if (spec.trim() === 'off') return undefined;
  const out: ChangeSpec = { everyMs: defaultEveryMs, ...DEFAULT_CHANGE };
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [key, v = ''] = part.split('=', 2) as [string, string | undefined];
    if (key === 'every') {
      const ms = parseDuration(v);
      if (ms === undefined || ms < 10) throw new SimSpecError(option, spec, `every: expected a duration of at least 10ms, got '${v}'`);
      out.everyMs = ms;
    } else if (key in DEFAULT_CHANGE) {
      const p = Number(v);
      if (!/^\d*(\.\d+)?$/.test(v) || v === '' || p > 1) throw new SimSpecError(option, spec, `${key}: expected a probability from 0 to 1, got '${v}'`);
      out[key as keyof typeof DEFAULT_CHANGE] = p;
    } else {
      throw new SimSpecError(option, spec, `unknown change '${key}' (known: every, ${Object.keys(DEFAULT_CHANGE).join(', ')}, or off)`);
    }
  }
  return out;
}

export function formatChange(c: ChangeSpec | undefined): string {
  if (!c) return 'off';
  return `every=${c.everyMs}ms,state=${c.state},nodes=${c.nodes},title=${c.title},create=${c.create},delete=${c.delete}`;
}

export interface CmlWorldOptions {
  id: string;
  labs?: number;
  users?: { username: string; password: string; fullname: string; admin: boolean; groups?: string[] }[];
  now?: () => number;
  seed?: number;
}

export const DEFAULT_USERS = [
  { username: 'admin', password: 'admin-pw', fullname: 'Dr. Super User', admin: true, groups: [] },
  { username: 'jdoe', password: 'jdoe-pw', fullname: 'Jane Doe', admin: false, groups: ['teaching'] },
  { username: 'asmith', password: 'asmith-pw', fullname: 'Alex Smith', admin: false, groups: ['teaching'] },
];

/** The controller's state: users, groups, labs and their topologies, computes. */
export class CmlWorld {
  readonly users: SimUser[];
  readonly groups: SimGroup[];
  readonly labs = new Map<string, SimLab>();
  readonly topologies = new Map<string, { nodes: SimNode[]; links: SimLink[] }>();
  readonly associations = new Map<string, LabAssociations>();
  readonly computes: SimCompute[];
  private readonly rnd: () => number;
  readonly now: () => number;
  private labCounter = 0;

  constructor(readonly o: CmlWorldOptions) {
    this.now = o.now ?? Date.now;
    this.rnd = mulberry32(o.seed ?? [...o.id].reduce((h, c) => (h * 31 + c.charCodeAt(0)) >>> 0, 7));
    const created = cmlTime(this.now() - 400 * 86_400_000);
    const specs = o.users ?? DEFAULT_USERS;
    const groupNames = [...new Set(specs.flatMap((u) => u.groups ?? []))];
    this.groups = groupNames.map((name) => ({ id: randomUUID(), name, created }));
    this.users = specs.map((u) => ({ ...u, id: randomUUID(), email: `${u.username}@lab.example`, created, groups: (u.groups ?? []).map((g) => this.groups.find((x) => x.name === g)!.id) }));
    this.computes = [
      { id: randomUUID(), hostname: 'cml-controller', server_address: '192.0.2.10', is_connector: true, cpus: 16, memoryBytes: 64 * 2 ** 30, diskBytes: 512 * 2 ** 30 },
      { id: randomUUID(), hostname: 'cml-compute-1', server_address: '192.0.2.11', is_connector: false, cpus: 32, memoryBytes: 128 * 2 ** 30, diskBytes: 1024 * 2 ** 30 },
    ];
    for (let i = 0; i < (o.labs ?? 0); i++) this.addLab();
  }

  user(id: string): SimUser | undefined {
    return this.users.find((u) => u.id === id);
  }

  /** What a user may do with a lab: everything as admin or owner, else what its associations grant; [] = it is not visible. */
  permissions(lab: SimLab, user: SimUser): Permission[] {
    if (user.admin || lab.owner === user.id) return ['lab_admin', 'lab_edit', 'lab_exec', 'lab_view'];
    const a = this.associations.get(lab.id);
    const granted = new Set<Permission>([...(a?.users.filter((x) => x.id === user.id).flatMap((x) => x.permissions) ?? []), ...(a?.groups.filter((g) => user.groups.includes(g.id)).flatMap((g) => g.permissions) ?? [])]);
    return (['lab_admin', 'lab_edit', 'lab_exec', 'lab_view'] as const).filter((p) => granted.has(p));
  }

  /** GET /labs: the user's own labs; with show_all also those shared with the user or the user's groups, and every lab for an admin. */
  visibleLabs(user: SimUser, showAll: boolean): SimLab[] {
    return [...this.labs.values()].filter((l) => l.owner === user.id || (showAll && this.permissions(l, user).length > 0));
  }

  /** Shares a lab with a group (the deprecated `groups` field shows it as read_only or read_write). */
  shareWithGroup(labId: string, groupId: string, permissions: Permission[]): void {
    const lab = this.labs.get(labId);
    const group = this.groups.find((g) => g.id === groupId);
    if (!lab || !group) throw new Error(`no lab ${labId} or group ${groupId}`);
    const a = this.associations.get(labId) ?? { groups: [], users: [] };
    a.groups = [...a.groups.filter((g) => g.id !== groupId), { id: groupId, permissions }];
    this.associations.set(labId, a);
    lab.groups = a.groups.map((g) => ({ id: g.id, permission: g.permissions.includes('lab_edit') ? 'read_write' : 'read_only', name: this.groups.find((x) => x.id === g.id)?.name }));
  }

  private nodeFor(index: number): SimNode {
    const d = NODE_DEFS[Math.floor(this.rnd() * NODE_DEFS.length)]!;
    const interfaces: SimInterface[] = d.loopback ? [{ id: randomUUID(), label: 'Loopback0', type: 'loopback', mac_address: null }] : [];
    return { id: randomUUID(), label: `${d.def}-${index}`, node_definition: d.def, x: (index % 8) * 150 - 500, y: Math.floor(index / 8) * 150, cpus: d.cpus, ram: d.ram, interfaces, compute_id: null };
  }

  /** The next free physical interface of a node (CML creates them in slot order as links need them). */
  private freeInterface(node: SimNode): SimInterface {
    const d = NODE_DEFS.find((x) => x.def === node.node_definition)!;
    const slot = node.interfaces.filter((i) => i.type === 'physical').length;
    const mac = `52:54:00:${[0, 0, 0].map(() => Math.floor(this.rnd() * 256).toString(16).padStart(2, '0')).join(':')}`;
    const iface: SimInterface = { id: randomUUID(), label: d.iface(slot), type: 'physical', slot, mac_address: mac };
    node.interfaces.push(iface);
    return iface;
  }

  private connect(a: SimNode, b: SimNode): SimLink {
    const ia = this.freeInterface(a);
    const ib = this.freeInterface(b);
    return { id: randomUUID(), node_a: a.id, node_b: b.id, interface_a: ia.id, interface_b: ib.id, label: `${a.label}-${ia.label}<->${b.label}-${ib.label}` };
  }

  /** A connected topology of `nodes` nodes with `links` links (a spanning tree, then extra links between random pairs). */
  private buildTopology(nodes: number, links: number): { nodes: SimNode[]; links: SimLink[] } {
    const ns = Array.from({ length: nodes }, (_, i) => this.nodeFor(i));
    const ls: SimLink[] = [];
    for (let i = 1; i < ns.length && ls.length < links; i++) ls.push(this.connect(ns[i]!, ns[Math.floor(this.rnd() * i)]!));
    while (ns.length > 1 && ls.length < links) {
      const a = Math.floor(this.rnd() * ns.length);
      const b = (a + 1 + Math.floor(this.rnd() * (ns.length - 1))) % ns.length;
      ls.push(this.connect(ns[a]!, ns[b]!));
    }
    return { nodes: ns, links: ls };
  }

  addLab(over: Partial<SimLab> = {}): SimLab {
    this.labCounter++;
    const owner = this.users[this.labCounter % this.users.length]!;
    const created = cmlTime(this.now() - Math.floor(this.rnd() * 90 * 86_400_000));
    const nodes = over.node_count ?? 1 + Math.floor(this.rnd() * 20);
    const links = over.link_count ?? (nodes < 2 ? 0 : nodes - 1 + Math.floor(this.rnd() * 3));
    const topology = this.buildTopology(nodes, links);
    const lab: SimLab = {
      id: randomUUID(),
      created,
      modified: created,
      lab_title: `${TOPICS[this.labCounter % TOPICS.length]} ${String(this.labCounter).padStart(3, '0')}`,
      lab_description: `Simulated lab ${this.labCounter} on ${this.o.id}`,
      lab_notes: '',
      owner: owner.id,
      owner_username: owner.username,
      owner_fullname: owner.fullname,
      state: LAB_STATES[Math.floor(this.rnd() * LAB_STATES.length)]!,
      node_count: topology.nodes.length,
      link_count: topology.links.length,
      groups: [],
      ...over,
    };
    this.labs.set(lab.id, lab);
    this.topologies.set(lab.id, topology);
    this.place(lab);
    // every other lab of a user in a group is shared with that group for viewing and running (a class lab)
    if (owner.groups[0] && this.labCounter % 2 === 0) this.shareWithGroup(lab.id, owner.groups[0], ['lab_view', 'lab_exec']);
    return lab;
  }

  /** Running labs' nodes are placed on the computes (round robin); stopped ones are on none. */
  private place(lab: SimLab): void {
    const t = this.topologies.get(lab.id);
    if (!t) return;
    t.nodes.forEach((n, i) => (n.compute_id = lab.state === 'STARTED' ? this.computes[i % this.computes.length]!.id : null));
  }

  updateLab(id: string, patch: Partial<SimLab>): void {
    const lab = this.labs.get(id);
    if (!lab) throw new Error(`no lab ${id}`);
    const { node_count, link_count, ...rest } = patch;
    Object.assign(lab, rest, { modified: cmlTime(this.now()) });
    if (node_count !== undefined) this.resize(lab, node_count, link_count);
    else if (link_count !== undefined) this.resize(lab, lab.node_count, link_count);
    this.place(lab);
  }

  /** Adds or removes nodes (with their links) so that the topology has `nodes` nodes, and `links` links when given. */
  private resize(lab: SimLab, nodes: number, links?: number): void {
    const t = this.topologies.get(lab.id)!;
    while (t.nodes.length > nodes) {
      const gone = t.nodes.pop()!;
      t.links = t.links.filter((l) => l.node_a !== gone.id && l.node_b !== gone.id);
    }
    while (t.nodes.length < nodes) {
      const n = this.nodeFor(t.nodes.length);
      if (t.nodes.length > 0) t.links.push(this.connect(n, t.nodes[Math.floor(this.rnd() * t.nodes.length)]!));
      t.nodes.push(n);
    }
    if (links !== undefined) {
      while (t.links.length > links) t.links.pop();
      while (t.nodes.length > 1 && t.links.length < links) t.links.push(this.connect(t.nodes[0]!, t.nodes[1 + Math.floor(this.rnd() * (t.nodes.length - 1))]!));
    }
    lab.node_count = t.nodes.length;
    lab.link_count = t.links.length;
  }

  deleteLab(id: string): void {
    this.labs.delete(id);
    this.topologies.delete(id);
    this.associations.delete(id);
  }

  /** One step of a living controller: labs change state, size or title; one may vanish and one appear. */
  evolve(c: Omit<ChangeSpec, 'everyMs'> = DEFAULT_CHANGE): void {
    for (const lab of [...this.labs.values()]) {
      if (this.rnd() < c.state) this.updateLab(lab.id, { state: lab.state === 'STARTED' ? 'STOPPED' : 'STARTED' });
      if (this.rnd() < c.nodes) this.updateLab(lab.id, { node_count: Math.max(1, lab.node_count + (this.rnd() < 0.5 && lab.node_count > 1 ? -1 : 1)) });
      if (this.rnd() < c.title) this.updateLab(lab.id, { lab_title: `${lab.lab_title.replace(/ \(v\d+\)$/, '')} (v${Math.floor(this.rnd() * 9) + 2})` });
    }
    if (this.labs.size > 1 && this.rnd() < c.delete) this.deleteLab([...this.labs.keys()][Math.floor(this.rnd() * this.labs.size)]!);
    if (this.rnd() < c.create) this.addLab();
  }
}
