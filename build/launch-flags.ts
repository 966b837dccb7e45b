// The Node flags weftd runs with (the image's ENTRYPOINT and manifests/weft.yaml say the same; a
// test compares them). They live here because the build makes the daemon's V8 code cache under
// exactly these flags: V8 rejects a cache made under any other.
//
// Chosen from the benchmark's own comparison (test/bench/heap-flags.ts): a 1 MiB young generation
// semi-space instead of 16 MiB, and V8's size-over-speed heuristics (slower heap growth). No
// --max-old-space-size: a cap low enough to lower RSS would kill the daemon at large peer counts.
export const LAUNCH_FLAGS = ['--max-semi-space-size=1', '--optimize-for-size'];
