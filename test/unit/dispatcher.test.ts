// The I/O dispatcher's backlog against a fake binding: I/O the native side refuses for now
// (EAGAIN: no slot or no bounce buffer) waits in JavaScript and goes once completions come
// back; with nothing in flight it is retried on its own; other errors settle at once.
import { beforeEach, describe, expect, it, vi } from 'vitest';

const native = vi.hoisted(() => ({
  calls: [] as number[], // slots submitted
  refuse: 0, // the next this-many submissions answer EAGAIN
  fail: 0, // the next this-many answer ENOMEM
}));

vi.mock('../../src/binding.js', () => ({
  binding: () => ({
    bdevIo: (_engine: unknown, _bdev: unknown, _op: number, slot: number) => {
      if (native.refuse > 0) {
        native.refuse--;
        return -11; // EAGAIN
      }
      if (native.fail > 0) {
        native.fail--;
        return -12; // ENOMEM
      }
      native.calls.push(slot);
      return 0;
    },
  }),
}));

const { IoDispatcher } = await import('../../src/io/dispatcher.js');

function owner() {
  let inFlight = 0;
  return {
    name: 'fake',
    native: {} as never,
    ioStarted: () => void inFlight++,
    ioFinished: () => void inFlight--,
    get inFlight() {
      return inFlight;
    },
  };
}

/** Completes the given slots with status 0, as the native drain would. */
function complete(dispatcher: InstanceType<typeof IoDispatcher>, slots: number[]): void {
  slots.forEach((slot, i) => {
    dispatcher.results[2 * i] = slot;
    dispatcher.results[2 * i + 1] = 0;
  });
  dispatcher.onIo(slots.length);
}

beforeEach(() => {
  native.calls = [];
  native.refuse = 0;
  native.fail = 0;
});

describe('IoDispatcher backlog', () => {
  it('holds refused I/O and submits it, in order, as completions come back', async () => {
    const d = new IoDispatcher();
    d.attach({} as never);
    const o = owner();
    const first = d.submit(o, 0, 'read', 0, 4096, null, 'a');
    native.refuse = 1; // the second finds no buffer now
    const second = d.submit(o, 0, 'read', 4096, 4096, null, 'b');
    const third = d.submit(o, 0, 'read', 8192, 4096, null, 'c'); // behind it in the backlog
    expect(native.calls).toEqual([0]);
    expect(d.ioInFlight).toBe(3);
    complete(d, [0]); // a buffer came back: the backlog goes
    expect(await first).toBe('a');
    expect(native.calls).toEqual([0, 0, 1]);
    complete(d, [0, 1]);
    expect([await second, await third]).toEqual(['b', 'c']);
    expect(d.ioInFlight).toBe(0);
    expect(o.inFlight).toBe(0);
  });

  it('retries on its own when nothing is in flight, and settles other errors at once', async () => {
    const d = new IoDispatcher();
    d.attach({} as never);
    const o = owner();
    native.refuse = 3; // refused three times with nothing in flight
    const waiting = d.submit(o, 0, 'read', 0, 4096, null, 'late');
    await vi.waitFor(() => expect(native.calls).toEqual([0]));
    complete(d, [0]);
    expect(await waiting).toBe('late');
    native.fail = 1;
    await expect(d.submit(o, 1, 'write', 0, 4096, null, undefined)).rejects.toMatchObject({ code: 'ENOMEM' });
    expect(d.ioInFlight).toBe(0);
    await d.whenIdle();
  });
});
