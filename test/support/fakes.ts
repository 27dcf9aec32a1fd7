// Test doubles: a manual clock whose sleep resolves immediately and advances time, and a stub registry
// in the style of gh's httpmock: every call must match a registered stub, verify() fails on unused ones.
import assert from 'node:assert/strict';

export class ManualClock {
  constructor(public t = Date.UTC(2026, 0, 1)) {}
  now = () => this.t;
  sleep = async (ms: number) => {
    this.t += ms;
  };
}

export class StubRegistry<Req, Res> {
  private readonly stubs: { name: string; match: (r: Req) => boolean; respond: (r: Req) => Res | Promise<Res>; times: number; used: number }[] = [];
  readonly calls: Req[] = [];

  register(name: string, match: (r: Req) => boolean, respond: (r: Req) => Res | Promise<Res>, times = Infinity): this {
    this.stubs.push({ name, match, respond, times, used: 0 });
    return this;
  }

  async call(req: Req): Promise<Res> {
    this.calls.push(req);
    const stub = this.stubs.find((s) => s.used < s.times && s.match(req));
    if (!stub) throw new Error(`no stub matched ${JSON.stringify(req)}`);
    stub.used++;
    return stub.respond(req);
  }

  verify(): void {
    const unused = this.stubs.filter((s) => s.used === 0).map((s) => s.name);
    assert.deepEqual(unused, [], `stubs never used: ${unused.join(', ')}`);
  }
}
