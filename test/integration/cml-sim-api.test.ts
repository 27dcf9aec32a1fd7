// The simulated CML controller as other client tools see it: every read endpoint answers the shape of Cisco's CML 2.9
// OpenAPI (test/fixtures/cml/openapi-2.9.read-endpoints.json, checked field by field), its views agree with each
// other (counts, topology, computes), non-admins see their own labs and those shared with their groups, errors have
// CML's {code, description} shape; and Cisco's own client library (virl2-client) can list and join its labs.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { startCmlControllers, type CmlControllers, type SimCmlController } from '../../src/sim/cml/index.js';
import { SchemaChecker, type Schema } from '../support/json-schema.js';
import { cmlLogin, cmlRequest, requireVirl2, runVirl2Flows } from '../support/cml-api.js';
import { tempDir } from '../support/tmp.js';

const spec = JSON.parse(readFileSync(new URL('../fixtures/cml/openapi-2.9.read-endpoints.json', import.meta.url), 'utf8')) as {
  paths: Record<string, { responses: Record<string, { content?: { 'application/json'?: { schema: Schema } } }> }>;
  components: { schemas: Record<string, Schema> };
};
const checker = new SchemaChecker(spec);
const responseSchema = (op: string, status = '200') => spec.paths[op]!.responses[status]!.content!['application/json']!.schema;

describe('simulated CML 2.9 controller: read endpoints', () => {
  const dir = tempDir('labops-cml-api-');
  let sim: CmlControllers;
  let c: SimCmlController;
  let ca: string;
  let admin: string;
  let jdoe: string;
  const get = (path: string, token = admin) => cmlRequest(c.url, ca, 'GET', path, { token });
  before(async () => {
    sim = await startCmlControllers({ count: 1, labsPerController: 12, stateDir: dir.path });
    c = sim.controllers[0]!;
    ca = readFileSync(sim.caFile, 'utf8');
    // a running lab, so computes, stats and licensing have nodes to count
    const started = [...c.labs.values()].find((l) => l.state !== 'STARTED')!;
    c.updateLab(started.id, { state: 'STARTED' });
    admin = await cmlLogin(c.url, ca, 'admin', 'admin-pw');
    jdoe = await cmlLogin(c.url, ca, 'jdoe', 'jdoe-pw');
  });
  after(async () => {
    await sim.close();
    dir.cleanup();
  });

  test('every read endpoint answers the 2.9 OpenAPI schema of its 200 response', async () => {
    const lab = [...c.labs.values()][0]!;
    const node = c.world.topologies.get(lab.id)!.nodes[0]!;
    const user = c.users[1]!;
    const group = c.world.groups[0]!;
    const calls: [string, string][] = [
      ['GET /labs', '/labs?show_all=true'],
      ['GET /labs/{lab_id}', `/labs/${lab.id}`],
      ['GET /labs/{lab_id}/state', `/labs/${lab.id}/state`],
      ['GET /labs/{lab_id}/topology', `/labs/${lab.id}/topology`],
      ['GET /labs/{lab_id}/topology', `/labs/${lab.id}/topology?exclude_configurations=true`],
      ['GET /labs/{lab_id}/tile', `/labs/${lab.id}/tile`],
      ['GET /labs/{lab_id}/lab_element_state', `/labs/${lab.id}/lab_element_state`],
      ['GET /labs/{lab_id}/nodes', `/labs/${lab.id}/nodes`],
      ['GET /labs/{lab_id}/nodes', `/labs/${lab.id}/nodes?data=true`],
      ['GET /labs/{lab_id}/links', `/labs/${lab.id}/links?data=true`],
      ['GET /labs/{lab_id}/nodes/{node_id}', `/labs/${lab.id}/nodes/${node.id}`],
      ['GET /labs/{lab_id}/check_if_converged', `/labs/${lab.id}/check_if_converged`],
      ['GET /users', '/users'],
      ['GET /users/{user_id}', `/users/${user.id}`],
      ['GET /users/{username}/id', `/users/${user.username}/id`],
      ['GET /groups', '/groups'],
      ['GET /groups/{group_id}', `/groups/${group.id}`],
      ['GET /groups/{group_name}/id', `/groups/${group.name}/id`],
      ['GET /system/compute_hosts', '/system/compute_hosts'],
      ['GET /system_health', '/system_health'],
      ['GET /system_stats', '/system_stats'],
      ['GET /licensing', '/licensing'],
      ['GET /system_information', '/system_information'],
      ['GET /authok', '/authok'],
      ['GET /web_session_timeout', '/web_session_timeout'],
    ];
    for (const [op, path] of calls) {
      const r = await get(path);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      assert.match(r.contentType, /^application\/json/);
      assert.deepEqual(checker.check(r.json(), responseSchema(op)), [], `${path} against ${op}`);
    }
  });

  test('the checker is strict: a body with a wrong type or an extra field fails', () => {
    const lab = responseSchema('GET /labs/{lab_id}');
    assert.deepEqual(checker.check({ lab_title: 'x', state: 'STOPPED', effective_permissions: [] }, lab), []);
    assert.match(checker.check({ lab_title: 'x', state: 'RUNNING', effective_permissions: [], node_count: 'seven', extra: 1 }, lab).join('\n'), /state.*not in[\s\S]*node_count: expected integer[\s\S]*unexpected property 'extra'/);
  });

  test('views agree: counts are the topology, links join existing interfaces, computes hold the started labs\' nodes', async () => {
    let started = 0;
    for (const id of (await get('/labs?show_all=true')).json() as string[]) {
      const detail = (await get(`/labs/${id}`)).json() as { node_count: number; link_count: number; state: string; lab_title: string };
      const topo = (await get(`/labs/${id}/topology`)).json() as { lab: { title: string }; nodes: { id: string; interfaces: { id: string }[] }[]; links: { node_a: string; node_b: string; interface_a: string; interface_b: string }[] };
      assert.equal(topo.nodes.length, detail.node_count, id);
      assert.equal(topo.links.length, detail.link_count, id);
      assert.equal(topo.lab.title, detail.lab_title);
      const ifaceOwner = new Map(topo.nodes.flatMap((n) => n.interfaces.map((i) => [i.id, n.id] as const)));
      for (const l of topo.links) {
        assert.equal(ifaceOwner.get(l.interface_a), l.node_a);
        assert.equal(ifaceOwner.get(l.interface_b), l.node_b);
      }
      const states = (await get(`/labs/${id}/lab_element_state`)).json() as { nodes: Record<string, string>; interfaces: Record<string, string> };
      assert.deepEqual(Object.keys(states.nodes).sort(), topo.nodes.map((n) => n.id).sort());
      assert.equal(Object.keys(states.interfaces).length, ifaceOwner.size);
      assert.ok(Object.values(states.nodes).every((s) => s === (detail.state === 'STARTED' ? 'BOOTED' : detail.state)), `${detail.state}: ${JSON.stringify(states.nodes)}`);
      if (detail.state === 'STARTED') started += detail.node_count;
    }
    assert.ok(started > 0);
    const computes = (await get('/system/compute_hosts')).json() as { nodes: string[]; node_counts: { running_nodes: number } }[];
    assert.equal(computes.reduce((a, x) => a + x.nodes.length, 0), started);
    const stats = (await get('/system_stats')).json() as { computes: Record<string, { stats: { dominfo: { running_nodes: number } } }> };
    assert.equal(Object.values(stats.computes).reduce((a, x) => a + x.stats.dominfo.running_nodes, 0), started);
    const lic = (await get('/licensing')).json() as { features: { name: string; in_use: number }[] };
    assert.equal(lic.features.find((f) => /Expansion Nodes/.test(f.name))!.in_use, started);
    const tiles = (await get('/populate_lab_tiles')).json() as { lab_tiles: Record<string, { node_count: number; topology: { nodes: unknown[] } }> };
    assert.equal(Object.keys(tiles.lab_tiles).length, c.labs.size);
    for (const t of Object.values(tiles.lab_tiles)) assert.equal(t.topology.nodes.length, t.node_count);
  });

  test('non-admins: own labs by default, with show_all also those shared with their groups; nothing else is visible', async () => {
    const me = c.users.find((u) => u.username === 'jdoe')!;
    const own = (await get('/labs', jdoe)).json() as string[];
    const all = (await get('/labs?show_all=true', jdoe)).json() as string[];
    const mine = [...c.labs.values()].filter((l) => l.owner === me.id).map((l) => l.id);
    const shared = [...c.labs.values()].filter((l) => l.owner !== me.id && l.groups.some((g) => me.groups.includes(g.id))).map((l) => l.id);
    assert.ok(mine.length > 0 && shared.length > 0, 'the world has own and group-shared labs');
    assert.deepEqual(own.sort(), mine.sort());
    assert.deepEqual(all.sort(), [...mine, ...shared].sort());
    const sharedDetail = (await get(`/labs/${shared[0]}`, jdoe)).json() as { effective_permissions: string[]; groups: { permission: string; name: string }[] };
    assert.deepEqual(sharedDetail.effective_permissions, ['lab_exec', 'lab_view']);
    assert.deepEqual(sharedDetail.groups.map((g) => [g.name, g.permission]), [['teaching', 'read_only']]);
    const hidden = [...c.labs.values()].find((l) => !all.includes(l.id))!;
    const r = await get(`/labs/${hidden.id}`, jdoe);
    assert.equal(r.status, 404);
    assert.deepEqual(r.json(), { code: 404, description: `Lab not found: ${hidden.id}` });
    // the admin sees every lab with show_all, and only its own without
    assert.equal(((await get('/labs?show_all=true')).json() as string[]).length, c.labs.size);
    assert.ok(((await get('/labs')).json() as string[]).length < c.labs.size);
    // a group-shared lab gives view and run, not edit: a wipe is refused
    const wipe = await cmlRequest(c.url, ca, 'PUT', `/labs/${shared[0]}/wipe`, { token: jdoe });
    assert.equal(wipe.status, 403);
  });

  test('errors have CML\'s {code, description} shape', async () => {
    const cases: [Promise<Awaited<ReturnType<typeof get>>>, number][] = [
      [cmlRequest(c.url, ca, 'GET', '/labs'), 401],
      [get('/labs/00000000-0000-4000-8000-000000000000/topology'), 404],
      [cmlRequest(c.url, ca, 'POST', '/authenticate', { body: { username: 'admin', password: 'wrong' } }), 403],
      [get('/system_health', jdoe), 403],
      [get('/users/not-a-uuid'), 400],
      [cmlRequest(c.url, ca, 'POST', '/labs/x/topology', { token: admin, body: {} }), 405],
      [get('/no/such/endpoint'), 404],
    ];
    for (const [p, status] of cases) {
      const r = await p;
      assert.equal(r.status, status, r.text);
      const body = r.json() as { code: number };
      assert.deepEqual(checker.check(body, checker.schema('ErrorResponse')), []);
      assert.equal(body.code, status);
    }
  });

  test('Cisco\'s client library (virl2-client): list all labs, join an existing lab, users, groups, computes, health, licensing', async (t) => {
    const lib = requireVirl2(t);
    if (!lib) return;
    const r = await runVirl2Flows(lib, { url: c.url, ca: sim.caFile, admin: ['admin', 'admin-pw'], user: ['jdoe', 'jdoe-pw'] });
    assert.equal(r.error, undefined, String(r.trace));
    const labs = r.labs as { id: string; nodes: number; links: number; owner: string; state: string; details: { node_count: number; link_count: number; state: string } }[];
    assert.equal(labs.length, c.labs.size);
    for (const l of labs) {
      assert.equal(l.nodes, l.details.node_count);
      assert.equal(l.links, l.details.link_count);
      assert.equal(l.state, l.details.state);
      assert.equal(l.owner, c.labs.get(l.id)!.owner_username);
    }
    assert.equal(r.missing, 'LabNotFound');
    assert.deepEqual(r.users, ['admin', 'asmith', 'jdoe']);
    assert.deepEqual(r.groups, { teaching: 2 });
    assert.equal(r.controller, 'cml-controller');
    assert.equal(r.health_valid, true);
    assert.equal(r.licensing, 'COMPLETED');
    assert.equal((r.by_title as string[]).length, 1);
    assert.ok((r.user_all as string[]).length > (r.user_own as string[]).length);
  });
});
