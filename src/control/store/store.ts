// The control plane's state store: keys and values with revisions, compare-and-swap
// transactions, watches on a prefix, and leases with a TTL, as etcd v3 defines them. Two
// implementations: embedded (classic-level, durable writes) and etcd.

export interface KeyValue {
  key: string;
  value: string;
  /** The store revision of the last change to this key. */
  modRevision: number;
  /** The store revision that created it. */
  createRevision: number;
  /** Changes since it was created (1 after the first put). */
  version: number;
  /** The lease the key is attached to, if any. */
  lease?: string | undefined;
}

/** A condition on a key's modRevision; 0 means "the key does not exist". */
export interface Compare {
  key: string;
  modRevision: number;
}

export type TxnOp = { put: { key: string; value: string; lease?: string | undefined } } | { delete: { key: string } };

export interface TxnResult {
  succeeded: boolean;
  /** The store's revision after the transaction. */
  revision: number;
}

export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
}

export interface Watch {
  close(): Promise<void>;
}

export interface Lease {
  readonly id: string;
  /** Called once if the lease expires or cannot be kept alive. */
  onLost(callback: (why: string) => void): void;
  /** Ends the lease now; the keys attached to it are deleted. */
  revoke(): Promise<void>;
}

export interface StateStore {
  readonly kind: 'embedded' | 'etcd';
  get(key: string): Promise<KeyValue | undefined>;
  /** Every key starting with `prefix`, in key order. */
  range(prefix: string): Promise<KeyValue[]>;
  /** Resolves with the revision of the change. */
  put(key: string, value: string, options?: { lease?: string }): Promise<number>;
  /** Resolves with whether the key existed. */
  delete(key: string): Promise<boolean>;
  /** If every compare holds, runs `success`, else `failure`; atomically. */
  txn(compares: Compare[], success: TxnOp[], failure?: TxnOp[]): Promise<TxnResult>;
  /** Events for keys under `prefix` after `afterRevision` (default: from now on). */
  watch(prefix: string, onEvent: (event: WatchEvent) => void, afterRevision?: number): Promise<Watch>;
  /** A lease kept alive until revoked or the store closes; its keys go when it ends. */
  grantLease(ttlMs: number): Promise<Lease>;
  close(): Promise<void>;
}

/** The end of a prefix range: the smallest key greater than every key with that prefix. */
export function prefixEnd(prefix: string): string {
  return `${prefix}\uffff`;
}
