import { importedKubeClientNames } from './kube-client-plugin.js';

describe('names imported from @kubernetes/client-node', () => {
  it('are the value imports of every clause, aliases by their exported name', () => {
    const source = [
      "import {\n  ApiException,\n  CoreV1Api,\n  type ConfigurationOptions,\n  PatchStrategy as Strategy,\n} from '@kubernetes/client-node';",
      "import type { KubeConfig } from '@kubernetes/client-node';",
      "import { makeInformer } from '@kubernetes/client-node';",
      "import { join } from 'node:path';",
    ].join('\n');
    expect(importedKubeClientNames(source, 'x.ts')).toEqual(['ApiException', 'CoreV1Api', 'PatchStrategy', 'makeInformer']);
  });

  it('refuse an import whose names cannot be read', () => {
    expect(() => importedKubeClientNames("import * as k8s from '@kubernetes/client-node';", 'x.ts')).toThrow(/x\.ts: import @kubernetes\/client-node by name/);
  });
});
