import type { Nexus } from '../../src/index.js';

/** Resolves with the end state ('Completed', 'Failed', 'Stopped') of the child's rebuild (bounded). */
export function rebuildEnd(nexus: Nexus, uri: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`rebuild of ${uri} did not end`)), 20_000);
    const onRebuild = (e: { uri: string; state: string }) => {
      if (e.uri !== uri || !['Completed', 'Failed', 'Stopped'].includes(e.state)) return;
      clearTimeout(timer);
      nexus.off('rebuild', onRebuild);
      resolve(e.state);
    };
    nexus.on('rebuild', onRebuild);
  });
}
