/**
 * Extra `deno run` flags for the Deno processes this project starts (server workers, the server
 * under test, the benchmark's server), so that coverage counts them exactly.
 *
 * Under `deno test --coverage` Deno sets DENO_COVERAGE_DIR, and every Deno child process
 * inherits it and writes its own coverage profile. But a module that a child loads from Deno's
 * V8 code cache (filled by any earlier run) reports its top-level code as one block, without
 * its branches (measured on Deno 2.9.6); the merged report then depends on which profile came
 * first. Compiling afresh costs a child a little start-up time, so only under coverage.
 */
export function denoRunFlags(
  env: (name: string) => string | undefined = (name) => Deno.env.get(name),
): string[] {
  return env("DENO_COVERAGE_DIR") ? ["--no-code-cache"] : [];
}
