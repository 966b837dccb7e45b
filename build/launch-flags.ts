// The Node flags weftd runs with (the image's ENTRYPOINT and manifests/weft.yaml say the same; a
// test compares them). They live here because the build makes the daemon's V8 code cache under
// exactly these flags: V8 rejects a cache made under any other.
//
// Chosen from measurement (test/bench/heap-flags.ts, and the interleaved A/B runs in
// test/bench/results/memory-2026-12-02/): a 1 MiB young generation semi-space instead of 16 MiB,
// V8's size-over-speed heuristics (slower heap growth), and lite mode: no optimizing or baseline
// compiler (interpreter only), which leaves no compiled code and compiler memory behind after the
// start-up burst: RSS at 5000 peers 93 -> 79 MiB with no more CPU to converge or under churn.
// Lite mode has no WebAssembly (weftd needs none; the `long` package falls back to plain JS), and
// --no-expose-wasm says so, which keeps V8's "disabling flag --expose_wasm" warning out of the log.
// No --max-old-space-size: a cap low enough to lower RSS would kill the daemon at large peer counts.
export const LAUNCH_FLAGS = ['--max-semi-space-size=1', '--optimize-for-size', '--lite-mode', '--no-expose-wasm'];
