import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from '@jest/globals';
import { buildKustomization, strategicMerge } from './kustomize.js';
import { resolveContainerEnvironment } from './environment.js';

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
  template:
    spec:
      containers:
        - name: web
          image: regatta/web:latest
          env:
            - name: A
              value: '1'
            - name: B
              valueFrom:
                secretKeyRef:
                  name: creds
                  key: B
`;

let dirs: string[] = [];
function tree(files: Record<string, string>): string {
  const root = mkdtempSync(path.join(tmpdir(), 'regatta-kustomize-'));
  dirs.push(root);
  for (const [file, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true });
    writeFileSync(path.join(root, file), text);
  }
  return root;
}

afterEach(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  dirs = [];
});

describe(buildKustomization.name, () => {
  it('applies an overlay: namespace, image tag, patch, generated secret', () => {
    const root = tree({
      'base/kustomization.yaml': 'resources:\n  - web.yaml\n',
      'base/web.yaml': DEPLOYMENT,
      'prod/kustomization.yaml': [
        'namespace: shop',
        'resources:\n  - ../base',
        'images:\n  - name: regatta/web\n    newTag: 1.2.3',
        'patches:\n  - path: patch.yaml',
        'secretGenerator:\n  - name: creds\n    literals:\n      - B=two',
      ].join('\n'),
      'prod/patch.yaml':
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  template:\n    spec:\n      containers:\n        - name: web\n          env:\n            - name: A\n              value: '9'\n",
    });
    const objects = buildKustomization(path.join(root, 'prod'));
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}@${o.metadata.namespace}`)).toEqual([
      'Deployment/web@shop',
      'Secret/creds@shop',
    ]);
    const container = (objects[0]!.spec as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec.containers[0]!;
    expect(container.image).toBe('regatta/web:1.2.3');
    expect(resolveContainerEnvironment(container, objects)).toEqual({
      env: { A: '9', B: 'two' },
      problems: [],
    });
  });

  it('rejects a patch that targets a resource the bases do not have', () => {
    const root = tree({
      'kustomization.yaml': 'resources:\n  - web.yaml\npatches:\n  - path: patch.yaml\n',
      'web.yaml': DEPLOYMENT,
      'patch.yaml': 'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  replicas: 1\n',
    });
    expect(() => buildKustomization(root)).toThrow(/patch targets Deployment\/api, which does not exist/);
  });

  it('rejects a missing base, an unknown field and an image no container uses', () => {
    expect(() =>
      buildKustomization(tree({ 'kustomization.yaml': 'resources:\n  - ../nowhere.yaml\n' })),
    ).toThrow(/nowhere.yaml does not exist/);
    expect(() => buildKustomization(tree({ 'kustomization.yaml': 'helmCharts: []\n' }))).toThrow(
      /unsupported field "helmCharts"/,
    );
    const root = tree({
      'kustomization.yaml': 'resources:\n  - web.yaml\nimages:\n  - name: regatta/api\n    newTag: x\n',
      'web.yaml': DEPLOYMENT,
    });
    expect(() => buildKustomization(root)).toThrow(/image regatta\/api is used by no container/);
  });

  it('reports an unresolvable secret reference', () => {
    const root = tree({ 'kustomization.yaml': 'resources:\n  - web.yaml\n', 'web.yaml': DEPLOYMENT });
    const objects = buildKustomization(root);
    const container = (objects[0]!.spec as { template: { spec: { containers: Record<string, unknown>[] } } })
      .template.spec.containers[0]!;
    expect(resolveContainerEnvironment(container, objects).problems).toEqual([
      'B: Secret/creds does not exist',
    ]);
  });
});

describe(strategicMerge.name, () => {
  it('merges named list items by key and replaces plain lists', () => {
    expect(
      strategicMerge(
        { containers: [{ name: 'a', args: ['x'], env: [{ name: 'K', value: '1' }] }], tags: ['p'] },
        { containers: [{ name: 'a', args: ['y'], env: [{ name: 'L', value: '2' }] }], tags: ['q'] },
      ),
    ).toEqual({
      containers: [
        {
          name: 'a',
          args: ['y'],
          env: [
            { name: 'K', value: '1' },
            { name: 'L', value: '2' },
          ],
        },
      ],
      tags: ['q'],
    });
  });
});
