import { NodestorError } from './errors.js';

export type HandleStatus = 'open' | 'closing' | 'closed';
export type HandleKind = 'bdev' | 'pool' | 'lvol' | 'nexus';
/** Why a handle closed, for its error message. */
export type CloseReason = 'destroyed' | 'exported' | 'released';

/**
 * The open → closing → closed life of a handle to an engine object (Bdev, Pool, Lvol,
 * Nexus). One class, so every closed handle refuses a call the same way: code DESTROYED,
 * the kind and name of the object, and why it closed. Handles hold one (composition,
 * because Nexus already extends EventEmitter).
 */
export class Lifecycle {
  readonly kind: HandleKind;
  readonly resource: string;
  #status: HandleStatus = 'open';
  #reason: CloseReason = 'destroyed';

  constructor(kind: HandleKind, resource: string) {
    this.kind = kind;
    this.resource = resource;
  }

  get status(): HandleStatus {
    return this.#status;
  }

  get isOpen(): boolean {
    return this.#status === 'open';
  }

  get isClosed(): boolean {
    return this.#status === 'closed';
  }

  /** open → closing. Returns the undo for a close that failed: back to open. */
  beginClose(): () => void {
    this.#status = 'closing';
    return () => {
      if (this.#status === 'closing') this.#status = 'open';
    };
  }

  /** The object is gone from the engine (or the handle let go of it). */
  close(reason: CloseReason = 'destroyed'): void {
    this.#status = 'closed';
    this.#reason = reason;
  }

  /** Throws DESTROYED unless the handle is open. */
  assertOpen(op: string): void {
    if (this.#status === 'open') return;
    const state = this.#status === 'closing' ? 'is being closed' : `was ${this.#reason}`;
    throw new NodestorError('DESTROYED', `${this.kind} ${this.resource} ${state}`, { op, resource: this.resource });
  }
}
