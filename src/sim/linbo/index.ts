// The LINBO Docker API peer for `labops sim`, the DC job tests and the benchmark.
export { startLinboApi } from './api.js';
export type { LinboApi, LinboApiOptions, SimOperation, SimHost, StatusPatch } from './api.js';
