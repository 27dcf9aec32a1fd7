// session-guard-events.jsonl: one compact JSON object per forced logoff, BOM only at the start, LF.
// Read incrementally: only lines newer than the last stored event are returned.
import { decodeStationText } from './decode.js';
import { asBool, asNumber, asString, toUtcIso, type ForcedLogoff } from './normalize.js';

export interface GuardEvent extends ForcedLogoff {
  /** the line as parsed, stored as the event payload */
  payload: Record<string, unknown>;
  /** 1-based line number in the file */
  line: number;
}

export interface EventsParseResult {
  events: GuardEvent[];
  /** lines that could not be parsed (kept out, reported) */
  bad: { line: number; error: string }[];
}

export function parseGuardEvents(bytes: Uint8Array): EventsParseResult {
  const text = decodeStationText(bytes);
  const events: GuardEvent[] = [];
  const bad: EventsParseResult['bad'] = [];
  text.split(/\r?\n/).forEach((raw, idx) => {
    const lineText = raw.trim();
    if (!lineText) return;
    try {
      const o = JSON.parse(lineText) as unknown;
      if (!o || typeof o !== 'object' || Array.isArray(o)) throw new Error('not an object');
      const p = o as Record<string, unknown>;
      const timestamp = toUtcIso(p.timestamp);
      // an event without its time cannot be ordered or linked: a warning, not a silent skip
      if (timestamp === null) throw new Error(`timestamp ${JSON.stringify(p.timestamp ?? null)?.slice(0, 80)} is not a real date and time`);
      events.push({
        timestamp,
        user: asString(p.user),
        sessionId: asString(p.sessionId),
        state: asString(p.state),
        message: asString(p.message),
        grace: asNumber(p.grace),
        force: asBool(p.force),
        source: asString(p.source),
        payload: p,
        line: idx + 1,
      });
    } catch (e) {
      bad.push({ line: idx + 1, error: (e as Error).message });
    }
  });
  return { events, bad };
}

/** A stable identity for an event, so the same line is stored once however often it is read. */
export function eventKey(e: Pick<GuardEvent, 'timestamp' | 'user' | 'sessionId'>): string {
  return `${e.timestamp ?? ''}|${e.user ?? ''}|${e.sessionId ?? ''}`;
}

/** Events strictly newer than `after` (ISO UTC), or all when nothing is stored yet. */
export function newerEvents(events: GuardEvent[], after: string | null): GuardEvent[] {
  if (!after) return events;
  return events.filter((e) => e.timestamp !== null && e.timestamp > after);
}
