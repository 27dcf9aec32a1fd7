// The DC job consumer (labops dc jobs, labops daemon --only dc-jobs): reads `linbo:jobs` as a member of
// the `dc-workers` group and reports every outcome to the LINBO API before it ACKs (NOTES §2, §3).
// The parts, in src/ops/dc-jobs/: the consumer (reading, keepalive, claims), a macct lane and a
// provision lane, and one reporter (report, ACK, dead-letter, and where each kind of error goes).
//
// What it fixes in the Python worker, staying wire-compatible with the API:
// - macct and provision jobs run in separate lanes: a provision batch (lock, debounce, import, verify)
//   never holds a macct job back (the worker left drained macct jobs unACKed for 5-10 minutes);
// - pending entries are taken over at startup (this consumer's own once nothing keeps them fresh, other
//   consumers' once idle for CLAIM_IDLE_SEC) and then every CLAIM_INTERVAL_SEC, over every XAUTOCLAIM
//   page; entries in work are kept fresh so a long import is not claimed by another consumer, and an
//   entry another consumer did claim is never taken back;
// - a failed macct job is retried after a capped exponential delay (the worker had none), and its
//   attempt is counted once (the API's retry handler counts; labops' PATCH keeps the attempt), so
//   MAX_RETRIES=3 means three runs; after the last one the job goes to `linbo:jobs:dlq` with its last error;
// - an error labops did not classify is a bug: logged with its stack, a failed run, never retried forever;
// - a message that cannot be processed (unknown type, missing fields, an operation the API no longer
//   has) is dead-lettered with the reason, never dropped silently;
// - an outcome is reported once: a redelivered entry whose operation is already completed/failed is only
//   ACKed (a crash between the report and the ACK), a PATCH whose answer was lost is checked before it is
//   sent again, and an entry claimed by another consumer is left to that consumer.
export { consumeDcJobs, DcJobConsumer } from './dc-jobs/consumer.js';
export { consumerConfig, runDcJobConsumer, type ConsumerConfig, type RunDcJobConsumerOptions } from './dc-jobs/run.js';
export { errorKind, type ErrorKind } from './dc-jobs/reporter.js';
export {
  defaultDcJobsSettings,
  emptySummary,
  type DcJobsPorts,
  type DcJobsSettings,
  type DcJobsSummary,
  type JobStreamPort,
  type LinboApiPort,
  type LogLevel,
  type MacctOutcome,
} from './dc-jobs/types.js';
