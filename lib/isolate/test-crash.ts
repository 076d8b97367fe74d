// MINIMONKEY_TEST_CRASH=<phase>:<how>, honoured only by the isolated model's child process
// (child.ts), for the tests of crash isolation: at the first load progress (load), after the first
// image of an ask is encoded (encode), at the first prefill chunk (prefill) or the first generated
// token (generate), the process dies for real: `abort` calls abort(3) (what a failed GGML_ASSERT
// does), `exit` exits with code 70, a signal name (SIGSEGV, SIGKILL) is sent to the process itself.
export type CrashPhase = 'load' | 'encode' | 'prefill' | 'generate';

export function testCrash(spec: string | undefined): (phase: CrashPhase) => void {
  const m = spec ? /^(load|encode|prefill|generate):(abort|exit|SIG[A-Z0-9]+)$/.exec(spec) : null;
  if (!m) return () => undefined;
  const [, when, how] = m;
  return (phase) => {
    if (phase !== when) return;
    if (how === 'abort') process.abort();
    if (how === 'exit') process.exit(70);
    process.kill(process.pid, how as NodeJS.Signals);
  };
}
