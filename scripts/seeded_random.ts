/**
 * The benchmark's import of the seeded generator; its one definition is
 * tests/support/seeded_random.ts (the randomized tests and the stress run share it). Kept until
 * scripts/bench/workload.ts imports it from there.
 */
export { seededRandom } from "../tests/support/seeded_random.ts";
