// The consumer: reads `linbo:jobs` as a member of the `dc-workers` group, hands each entry to its lane
// (macct, provision) or the reporter (invalid), keeps the entries in work fresh and takes over pending
// ones: its own from an earlier run once nothing keeps them fresh, everybody's once idle for CLAIM_IDLE_SEC.
import { JOB_STREAM, parseJobMessage } from '../../domain/dc-jobs.js';
import type { StreamEntry } from '../../core/streams/redis-streams.js';
import { MacctLane } from './macct-lane.js';
import { ProvisionLane } from './provision-lane.js';
import { errorKind, errText, JobReporter } from './reporter.js';
import { ConsumerRun } from './run-state.js';
import type { DcJobsPorts, DcJobsSettings, DcJobsSummary } from './types.js';

/** When the entry was added: the milliseconds part of its stream ID. */
const entryTimeMs = (id: string): number => Number(id.split('-')[0]);

const entries = (n: number) => `${n} pending entr${n === 1 ? 'y' : 'ies'}`;

export class DcJobConsumer {
  private readonly run: ConsumerRun;
  private readonly reporter: JobReporter;
  private readonly macct: MacctLane;
  private readonly provision: ProvisionLane;

  constructor(
    private readonly s: DcJobsSettings,
    private readonly p: DcJobsPorts,
    o: { signal: AbortSignal; once?: boolean },
  ) {
    this.run = new ConsumerRun(o.signal, Boolean(o.once));
    this.reporter = new JobReporter(s, p, this.run);
    this.macct = new MacctLane(s, p, this.run, this.reporter);
    this.provision = new ProvisionLane(s, p, this.run, this.reporter);
  }

  /** Consumes until the signal aborts (with `once`: what is pending and queued now), then returns the counts. */
  async consume(): Promise<DcJobsSummary> {
    try {
      const group = await this.reporter.persist('XGROUP CREATE', () => this.p.stream.ensureGroup());
      if (group.rewound) this.p.log('info', `no consumer had joined the group yet (created at $): set back to the start of ${JOB_STREAM}, so jobs queued before are delivered`);
      await this.reporter.persist('reading own pending entries', () => this.recoverOwn(true));
      await this.reporter.persist('XAUTOCLAIM', () => this.claimIdle());
      if (this.run.once) await this.onePass();
      else await this.continuous();
      return this.run.summary;
    } finally {
      await this.releaseLeft();
      this.run.dispose();
    }
  }

  private async onePass(): Promise<void> {
    for (;;) {
      const es = await this.reporter.persist('XREADGROUP', () => this.p.stream.read(Math.max(this.s.readCount, 100), undefined));
      if (es.length === 0) break;
      for (const e of es) this.dispatch(e);
    }
    this.run.draining = true;
    this.run.wake();
    await this.lanes();
    await this.reporter.drain();
    for (const j of [...this.macct.waiting, ...this.provision.waiting]) this.reporter.leavePending(j, 'interrupted');
  }

  private async continuous(): Promise<void> {
    const loops = await Promise.allSettled([this.reader(), this.periodic(), this.lanes()]);
    await this.reporter.drain();
    const waiting = [...this.macct.waiting, ...this.provision.waiting];
    this.run.summary.leftPending += waiting.length;
    for (const j of waiting) this.run.left.add(j.id);
    const crashed = loops.find((l) => l.status === 'rejected');
    if (crashed) throw crashed.reason;
  }

  private lanes(): Promise<unknown> {
    return Promise.all([this.provision.work(), this.macct.work()]);
  }

  private dispatch(e: StreamEntry): void {
    if (this.run.inflight.has(e.id)) return;
    this.run.inflight.add(e.id);
    this.run.summary.received++;
    const m = parseJobMessage(e.id, e.fields);
    const ageMs = this.p.now() - entryTimeMs(e.id);
    if (m.type === 'invalid') this.reporter.background(m, () => this.reporter.invalid(m));
    else if (this.s.maxJobAgeMs > 0 && ageMs > this.s.maxJobAgeMs) this.reporter.background(m, () => this.reporter.expired(m, ageMs));
    else if (m.type === 'macct_repair') this.macct.push(m);
    else this.provision.push(m);
    this.run.wake();
  }

  /**
   * How many entries the reader may take now: free macct lanes, plus the rest of a provision batch being
   * gathered; none while a full batch waits. Reading more would hoard entries that other consumers in the
   * group could start at once (and that would sit idle until XAUTOCLAIM if this consumer died).
   */
  private readRoom(): number {
    return this.provision.full ? 0 : this.macct.room() + this.provision.room();
  }

  private async reader(): Promise<void> {
    for (let failures = 0; !this.run.aborted; ) {
      const room = this.readRoom();
      if (room === 0) {
        await this.run.idle();
        continue;
      }
      let es: StreamEntry[];
      try {
        es = await this.p.stream.read(Math.min(this.s.readCount, room), this.s.readBlockMs);
        failures = 0;
      } catch (e) {
        if (this.run.aborted) break;
        this.stopUnlessTransient(e, `reading ${JOB_STREAM}`);
        failures++;
        if (failures === 1 || failures % 10 === 0) this.p.log('warn', `reading ${JOB_STREAM} failed (${errText(e)}); reconnecting`);
        await this.p.sleep(Math.min(5000, 500 * failures), this.run.signal);
        continue;
      }
      if (this.run.aborted) {
        // read after the stop: left for the next start (this consumer's own) or others
        for (const e of es) this.run.left.add(e.id);
        break;
      }
      for (const e of es) this.dispatch(e);
    }
  }

  /** Keepalive of the entries in work every KEEPALIVE, claims every CLAIM_INTERVAL_SEC. */
  private async periodic(): Promise<void> {
    let lastClaim = this.p.now();
    let lastKeep = this.p.now();
    const tick = Math.max(10, Math.min(1000, this.s.claimIntervalMs, this.s.keepaliveMs / 2));
    while (!this.run.aborted) {
      await this.p.sleep(tick, this.run.signal);
      if (this.run.aborted) break;
      const now = this.p.now();
      try {
        if (now - lastKeep >= this.s.keepaliveMs - tick / 2) {
          lastKeep = now;
          const ids = [...this.run.inflight];
          const holders = await this.p.stream.keep(ids);
          holders.forEach((h, i) => h === 'other' && this.reporter.handedOver(ids[i]!));
        }
        if (now - lastClaim >= this.s.claimIntervalMs) {
          lastClaim = now;
          await this.recoverOwn(false);
          await this.claimIdle();
        }
      } catch (e) {
        this.stopUnlessTransient(e, 'claim/keepalive');
        this.p.log('warn', `claim/keepalive failed (${errText(e)}); will try again`);
      }
    }
  }

  /** A reader loop met an error that will not pass (Redis refused the command, a bug): the run ends with it. */
  private stopUnlessTransient(e: unknown, what: string): void {
    if (errorKind(e) === 'transient') return;
    const detail = errorKind(e) === 'bug' && e instanceof Error && e.stack ? e.stack : errText(e);
    this.p.log('error', `${what}: ${detail}; the consumer stops`);
    this.run.stop();
    throw e;
  }

  /**
   * This consumer's own pending entries that nothing keeps fresh any more (an earlier run under this
   * name that crashed or stopped, a read whose answer was lost) are taken without waiting for
   * CLAIM_IDLE_SEC. Fresher ones are in work elsewhere — another running process with the same
   * CONSUMER_NAME — and taking them would run and report them twice.
   */
  private async recoverOwn(startup: boolean): Promise<void> {
    const minIdle = Math.min(2 * this.s.keepaliveMs, this.s.claimIdleMs);
    const own = (await this.p.stream.ownPending(1000)).filter((e) => !this.run.inflight.has(e.id));
    const stale = own.filter((e) => e.idleMs >= minIdle).map((e) => e.id);
    if (startup && own.length > stale.length) {
      const n = own.length - stale.length;
      this.p.log(
        'warn',
        `${entries(n)} of consumer ${this.s.consumer} kept fresh within the last ${Math.round(minIdle / 1000)} s: another running process seems to use ` +
          `the same CONSUMER_NAME (each instance needs its own); left to it, taken here once idle for ${Math.round(this.s.claimIdleMs / 1000)} s`,
      );
    }
    for (const e of await this.p.stream.claim(stale, minIdle)) this.dispatch(e);
  }

  private async claimIdle(): Promise<void> {
    const { entries: claimed, deleted } = await this.p.stream.autoclaim(this.s.claimIdleMs);
    if (claimed.length) this.p.log('info', `claimed ${entries(claimed.length)} idle for more than ${Math.round(this.s.claimIdleMs / 1000)} s`);
    for (const e of claimed) this.dispatch(e);
    // Entries deleted from the stream (XTRIM/XDEL) while pending: nothing to do but release them.
    if (deleted.length) await this.p.stream.ack(deleted);
  }

  /**
   * Entries this run leaves unfinished are made claimable at once: the next start (or another consumer)
   * takes them without waiting. Best effort, and never longer than a moment: Redis may be the reason.
   */
  private async releaseLeft(): Promise<void> {
    const ids = [...this.run.left];
    if (ids.length === 0) return;
    const released = this.p.stream.release(ids, this.s.claimIdleMs).then(
      () => true,
      (e) => this.p.log('debug', `could not release ${entries(ids.length)}: ${errText(e)}`),
    );
    const timer = new AbortController();
    await Promise.race([released, this.p.sleep(2000, timer.signal)]);
    timer.abort();
  }
}

export function consumeDcJobs(s: DcJobsSettings, p: DcJobsPorts, o: { signal: AbortSignal; once?: boolean }): Promise<DcJobsSummary> {
  return new DcJobConsumer(s, p, o).consume();
}
