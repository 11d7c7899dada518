// The cluster's API double of the tests: the lab's API server (src/lab/api-server.ts) under the names the tests use,
// and the YAML fixtures of test/fixtures/k8s/.
import { readFileSync } from 'node:fs';
import { loadAll } from 'js-yaml';
import type { ApiObject } from '../../src/lab/api-server.js';

export {
  startApiServer as startFakeApiServer,
  type ApiObject as FakeObject,
  type ApiServer as FakeApiServer,
} from '../../src/lab/api-server.js';

/** The YAML documents of a fixture in test/fixtures/k8s/, as plain objects. */
export function loadK8sFixture(file: string): ApiObject[] {
  const text = readFileSync(new URL('../../../test/fixtures/k8s/' + file, import.meta.url), 'utf8');
  return loadAll(text).filter((d): d is ApiObject => d !== null && typeof d === 'object');
}
