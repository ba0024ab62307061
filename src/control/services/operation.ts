// The record of an operation in progress, written into the volume's spec before any node
// is touched, with the request id it runs under so that whoever finishes it logs the same.
import { currentRequestId } from '../../request-context.js';
import type { VolumeOperation } from '../types.js';

export function beginOperation(kind: VolumeOperation['kind'], details: Omit<VolumeOperation, 'kind' | 'startedAt' | 'requestId'> = {}): VolumeOperation {
  const requestId = currentRequestId();
  return { kind, startedAt: Date.now(), ...details, ...(requestId !== undefined ? { requestId } : {}) };
}
