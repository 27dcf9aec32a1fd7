// Runs the labops CLI from source (no build needed), for tests that need separate processes.
import { main } from '../../src/cli/main.js';

await main();
