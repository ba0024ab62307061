// The event stream: what the daemons emit (nexus child faulted, rebuild begun and ended,
// pool created, host connected) and what the control plane decides (node online or
// offline, volume created, degraded, online, faulted), each with an increasing id so a
// reader resumes with ?since=<id>. The last `capacity` events are kept in memory only: the
// ones from before a restart are gone.
import { EventEmitter } from 'node:events';

export interface ControlEvent {
  id: number;
  time: string;
  /** 'control' or the node the event came from. */
  source: string;
  kind: string;
  [key: string]: unknown;
}

export class EventLog {
  readonly #capacity: number;
  #events: ControlEvent[] = [];
  // Ids begin at the start time in microseconds, so a control plane started again issues
  // ids above any it issued before (unless it made over 1,000 events a millisecond): a
  // reader resuming with ?since= after a restart misses none of the new ones.
  #nextId = Date.now() * 1000;
  readonly #emitter = new EventEmitter<{ event: [ControlEvent] }>();

  constructor(capacity = 10_000) {
    this.#capacity = capacity;
    this.#emitter.setMaxListeners(0);
  }

  append(source: string, event: { kind: string; [key: string]: unknown }): ControlEvent {
    const { kind, ...rest } = event;
    const entry: ControlEvent = { ...rest, id: this.#nextId++, time: new Date().toISOString(), source, kind };
    this.#events.push(entry);
    if (this.#events.length > this.#capacity) this.#events.splice(0, this.#events.length - this.#capacity);
    this.#emitter.emit('event', entry);
    return entry;
  }

  /** The kept events after `id`, oldest first. */
  since(id = 0): ControlEvent[] {
    return this.#events.filter((e) => e.id > id);
  }

  /** Calls `listener` for every new event until the returned function is called. */
  subscribe(listener: (event: ControlEvent) => void): () => void {
    this.#emitter.on('event', listener);
    return () => this.#emitter.off('event', listener);
  }
}
