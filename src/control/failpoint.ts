// Crash points for the crash tests, as etcd's failpoints: NODESTOR_FAILPOINT=after:<method>:<n>
// kills this process (SIGKILL, no clean-up) right after its n-th successful call of that
// daemon method, so a test can stop a control plane between two steps of an operation.
const spec = /^after:([a-z_]+):(\d+)$/.exec(process.env.NODESTOR_FAILPOINT ?? '');
let remaining = spec ? Number(spec[2]) : 0;

export function failpointAfter(method: string): void {
  if (!spec || spec[1] !== method) return;
  if (--remaining === 0) process.kill(process.pid, 'SIGKILL');
}
