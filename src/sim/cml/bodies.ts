// Response bodies of the simulated CML 2.9 controller, shaped as the 2.9 OpenAPI schemas name them (LabResponse,
// TopologyResponse, LabInfoResponse, UserResponse, GroupInfoResponse, ComputeHostBase, SystemHealth, SystemStats,
// LicensingStatus; see test/fixtures/cml/NOTES.md), built from the controller's state (world.ts) so that every view
// agrees: a lab's node_count is its topology's nodes, a compute's running nodes are the started labs' nodes on it.
import type { CmlWorld, Permission, SimCompute, SimLab, SimLink, SimNode, SimUser } from './world.js';
import { cmlTime } from './world.js';

export type Flavor = '2.9' | 'older';

/** A node's state follows its lab's: a started lab's nodes have booted. */
export function nodeState(lab: SimLab): string {
  return lab.state === 'STARTED' ? 'BOOTED' : lab.state === 'STOPPED' ? 'STOPPED' : 'DEFINED_ON_CORE';
}

function linkState(lab: SimLab): string {
  return lab.state === 'STARTED' ? 'STARTED' : lab.state === 'STOPPED' ? 'STOPPED' : 'DEFINED_ON_CORE';
}

/** GET /labs/{id}: LabResponse ('older' controllers sent no owner_fullname and no effective_permissions). */
export function labBody(w: CmlWorld, lab: SimLab, user: SimUser, flavor: Flavor): Record<string, unknown> {
  const body: Record<string, unknown> = { ...lab };
  if (flavor === 'older') delete body.owner_fullname;
  else body.effective_permissions = w.permissions(lab, user);
  return body;
}

/** The fields a node has in the topology and at run time alike. */
function nodeDefinition(n: SimNode): Record<string, unknown> {
  return {
    id: n.id,
    label: n.label,
    x: n.x,
    y: n.y,
    node_definition: n.node_definition,
    image_definition: null,
    ram: n.ram,
    cpus: n.cpus,
    cpu_limit: 100,
    data_volume: 0,
    boot_disk_size: 0,
    hide_links: false,
    tags: [],
    parameters: {},
  };
}

/** NodeTopology: what GET /labs/{id}/topology lists per node (no runtime state). */
function nodeTopology(n: SimNode, excludeConfigurations: boolean): Record<string, unknown> {
  return {
    ...nodeDefinition(n),
    ...(excludeConfigurations ? {} : { configuration: [{ name: 'Main', content: `hostname ${n.label}\n` }] }),
    // nested under their node, interfaces carry no `node` (a client that copies the keys onto its objects would break)
    interfaces: n.interfaces.map((i) => ({ id: i.id, label: i.label, type: i.type, ...(i.slot === undefined ? {} : { slot: i.slot }), mac_address: i.mac_address })),
  };
}

function linkBody(lab: SimLab, l: SimLink): Record<string, unknown> {
  return { id: l.id, lab_id: lab.id, label: l.label, state: linkState(lab), interface_a: l.interface_a, interface_b: l.interface_b, node_a: l.node_a, node_b: l.node_b, link_capture_key: '' };
}

/** GET /labs/{id}/topology: TopologyResponse. */
export function topologyBody(w: CmlWorld, lab: SimLab, excludeConfigurations: boolean): Record<string, unknown> {
  const t = w.topologies.get(lab.id)!;
  return {
    lab: { version: '0.3.0', title: lab.lab_title, description: lab.lab_description, notes: lab.lab_notes, owner: lab.owner },
    nodes: t.nodes.map((n) => nodeTopology(n, excludeConfigurations)),
    links: t.links.map((l) => ({ id: l.id, label: l.label, interface_a: l.interface_a, interface_b: l.interface_b, node_a: l.node_a, node_b: l.node_b })),
    annotations: [],
    smart_annotations: [],
  };
}

/** Node: the runtime view of a node (GET /labs/{id}/nodes?data=true, tiles, simulation_stats). */
export function nodeBody(lab: SimLab, n: SimNode): Record<string, unknown> {
  const operational = { boot_disk_size: 0, cpu_limit: 100, cpus: n.cpus, data_volume: 0, ram: n.ram, compute_id: n.compute_id, image_definition: null, vnc_key: null, resource_pool: null, iol_app_id: null, serial_consoles: [] };
  return {
    ...nodeDefinition(n),
    lab_id: lab.id,
    state: nodeState(lab),
    boot_progress: lab.state === 'STARTED' ? 'Booted' : 'Not running',
    compute_id: n.compute_id,
    pinned_compute_id: null,
    resource_pool: null,
    iol_app_id: null,
    vnc_key: null,
    serial_consoles: [],
    operational,
  };
}

/** GET /labs/{id}/lab_element_state: LabElementStateResponse. */
export function elementStateBody(w: CmlWorld, lab: SimLab): Record<string, unknown> {
  const t = w.topologies.get(lab.id)!;
  const iface = linkState(lab);
  return {
    nodes: Object.fromEntries(t.nodes.map((n) => [n.id, nodeState(lab)])),
    links: Object.fromEntries(t.links.map((l) => [l.id, linkState(lab)])),
    interfaces: Object.fromEntries(t.nodes.flatMap((n) => n.interfaces.map((i) => [i.id, iface]))),
  };
}

/** GET /labs/{id}/nodes and /links: ids, or objects with data=true. */
export function elementsBody(w: CmlWorld, lab: SimLab, what: 'nodes' | 'links', data: boolean): unknown[] {
  const t = w.topologies.get(lab.id)!;
  if (what === 'nodes') return data ? t.nodes.map((n) => nodeBody(lab, n)) : t.nodes.map((n) => n.id);
  return data ? t.links.map((l) => linkBody(lab, l)) : t.links.map((l) => l.id);
}

/** GET /labs/{id}/tile: LabInfoResponse, the lab with its simplified topology. */
export function tileBody(w: CmlWorld, lab: SimLab, user: SimUser): Record<string, unknown> {
  const t = w.topologies.get(lab.id)!;
  return {
    ...lab,
    effective_permissions: w.permissions(lab, user),
    topology: { nodes: t.nodes.map((n) => nodeBody(lab, n)), links: t.links.map((l) => linkBody(lab, l)), annotations: [], smart_annotations: [] },
  };
}

/** UserResponse (never the password). */
export function userBody(w: CmlWorld, u: SimUser): Record<string, unknown> {
  return {
    id: u.id,
    username: u.username,
    fullname: u.fullname,
    email: u.email,
    admin: u.admin,
    groups: [...u.groups],
    associations: [...w.associations].flatMap(([labId, a]) => a.users.filter((x) => x.id === u.id).map((x) => ({ id: labId, permissions: x.permissions }))),
    labs: [...w.labs.values()].filter((l) => l.owner === u.id).map((l) => l.id),
    resource_pool: null,
    opt_in: null,
    tour_version: '',
    directory_dn: '',
    pubkey_info: null,
    created: u.created,
    modified: u.created,
  };
}

/** GroupInfoResponse: members, and the labs shared with the group (`labs` is the deprecated view of `associations`). */
export function groupBody(w: CmlWorld, groupId: string): Record<string, unknown> {
  const g = w.groups.find((x) => x.id === groupId)!;
  const associations = [...w.associations].flatMap(([labId, a]) => a.groups.filter((x) => x.id === g.id).map((x) => ({ id: labId, permissions: x.permissions as Permission[] })));
  return {
    id: g.id,
    name: g.name,
    members: w.users.filter((u) => u.groups.includes(g.id)).map((u) => u.id),
    labs: associations.map((a) => ({ id: a.id, permission: a.permissions.includes('lab_edit') ? 'read_write' : 'read_only' })),
    associations,
    directory_dn: '',
    directory_exists: null,
    created: g.created,
    modified: g.created,
  };
}

interface ComputeLoad {
  nodes: string[];
  running: number;
  cpus: number;
  memoryMiB: number;
}

/** The nodes on each compute: started labs' nodes, with the CPUs and memory they take. */
function computeLoad(w: CmlWorld, c: SimCompute): ComputeLoad {
  const load: ComputeLoad = { nodes: [], running: 0, cpus: 0, memoryMiB: 0 };
  for (const lab of w.labs.values()) {
    for (const n of w.topologies.get(lab.id)!.nodes) {
      if (n.compute_id !== c.id) continue;
      load.nodes.push(n.id);
      load.running++;
      load.cpus += n.cpus;
      load.memoryMiB += n.ram;
    }
  }
  return load;
}

/** GET /system/compute_hosts: ComputeHostBase per compute. */
export function computeHostsBody(w: CmlWorld): Record<string, unknown>[] {
  return w.computes.map((c) => {
    const load = computeLoad(w, c);
    return {
      id: c.id,
      hostname: c.hostname,
      server_address: c.server_address,
      is_simulator: true,
      is_connector: c.is_connector,
      admission_state: 'READY',
      nodes: load.nodes,
      node_counts: { total_nodes: load.nodes.length, total_orphans: 0, running_nodes: load.running, running_orphans: 0 },
      is_connected: true,
      is_synced: true,
    };
  });
}

/** GET /system_health: SystemHealth. */
export function systemHealthBody(w: CmlWorld): Record<string, unknown> {
  const computes = Object.fromEntries(
    w.computes.map((c) => [
      c.id,
      { kvm_vmx_enabled: true, enough_cpus: true, lld_connected: true, lld_synced: true, libvirt: true, fabric: true, device_mux: true, refplat_images_available: true, docker_shim: true, valid: true, admission_state: 'READY', is_controller: c.is_connector, hostname: c.hostname },
    ]),
  );
  return { valid: true, is_licensed: true, is_enterprise: true, computes, controller: { core_connected: true, nodes_loaded: true, images_loaded: true, valid: true } };
}

/** GET /system_stats: SystemStats, with allocations that add up to the running nodes. */
export function systemStatsBody(w: CmlWorld): Record<string, unknown> {
  const MiB = 2 ** 20;
  let used = 0;
  let total = 0;
  let cpus = 0;
  const computes = Object.fromEntries(
    w.computes.map((c) => {
      const load = computeLoad(w, c);
      const memUsed = Math.min(c.memoryBytes, 4 * 2 ** 30 + load.memoryMiB * MiB);
      used += memUsed;
      total += c.memoryBytes;
      cpus += c.cpus;
      const percent = Math.min(100, Math.round((2 + (load.cpus / c.cpus) * 35) * 10) / 10);
      const dominfo = { allocated_cpus: load.cpus, allocated_memory: load.memoryMiB * MiB, total_nodes: load.nodes.length, total_orphans: 0, running_nodes: load.running, running_orphans: 0 };
      const stats = {
        cpu: { count: c.cpus, percent, model: 'Intel(R) Xeon(R) Gold 6338 CPU @ 2.00GHz', predicted: load.cpus, load: [percent / 25, percent / 30, percent / 35].map((x) => Math.round(x * 100) / 100) },
        memory: { used: memUsed, free: c.memoryBytes - memUsed, total: c.memoryBytes },
        disk: { used: Math.round(c.diskBytes * 0.3), free: c.diskBytes - Math.round(c.diskBytes * 0.3), total: c.diskBytes },
        dominfo,
      };
      return [c.id, { hostname: c.hostname, is_controller: c.is_connector, stats }];
    }),
  );
  const disk = w.computes.reduce((a, c) => a + c.diskBytes, 0);
  const controller = w.computes.find((c) => c.is_connector)!;
  return {
    computes,
    all: { cpu: { count: cpus, percent: 0 }, memory: { used, free: total - used, total }, disk: { used: Math.round(disk * 0.3), free: disk - Math.round(disk * 0.3), total: disk } },
    controller: { disk: { used: Math.round(controller.diskBytes * 0.3), free: controller.diskBytes - Math.round(controller.diskBytes * 0.3), total: controller.diskBytes } },
  };
}

/** GET /licensing: LicensingStatus of a registered, authorized Enterprise controller; in_use counts the running nodes. */
export function licensingBody(w: CmlWorld): Record<string, unknown> {
  const now = w.now();
  const at = (days: number) => cmlTime(now + days * 86_400_000);
  const time = (days: number) => ({ succeeded: at(days), attempted: at(days), scheduled: null, status: 'SUCCEEDED', failure: null, success: 'SUCCEEDED' });
  const running = w.computes.reduce((a, c) => a + computeLoad(w, c).running, 0);
  return {
    udi: { hostname: w.computes.find((c) => c.is_connector)!.hostname, product_uuid: w.computes[0]!.id.toUpperCase() },
    registration: { status: 'COMPLETED', smart_account: 'Lab Operations', virtual_account: 'Simulated', register_time: time(-120), renew_time: time(-10), expires: at(245) },
    authorization: { status: 'IN_COMPLIANCE', renew_time: time(-1), expires: at(89) },
    reservation_mode: false,
    features: [
      { id: 'regid.2019-10.com.cisco.CML_ENT_BASE,1.0_1e6d43fb-e2c9-4fb4-a4d5-4b5bbe6e1d3d', name: 'CML - Enterprise License', version: '1.0', in_use: 1, status: 'IN_COMPLIANCE', min: 1, max: 1, minEndDate: null, maxEndDate: null },
      { id: 'regid.2019-10.com.cisco.CML_NODE_COUNT,1.0_2f8f6b9a-3b7e-4c6d-9c59-1a2b3c4d5e6f', name: 'CML - Expansion Nodes', version: '1.0', in_use: running, status: 'IN_COMPLIANCE', min: 0, max: 300, minEndDate: null, maxEndDate: null },
    ],
    product_license: { active: 'CML_Enterprise', is_enterprise: true },
    transport: { proxy: { server: null, port: null }, ssms: 'https://smartreceiver.cisco.com/licservice/license', default_ssms: 'https://smartreceiver.cisco.com/licservice/license' },
  };
}
