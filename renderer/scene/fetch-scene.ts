import type { SceneDescription } from '../../src/protocol/scene.ts';
import type { StudioClient } from '../api/client.ts';

/** What fetching the scene needs of the studio client. */
export type SceneClient = Pick<StudioClient, 'scene'>;

/** One `scene` call per client, shared by every view (the scene does not change in a session). */
const cache = new WeakMap<SceneClient, Promise<SceneDescription | null>>();

/** The studio robot's scene, asked once per client (again only after a failure). */
export function fetchScene(client: SceneClient): Promise<SceneDescription | null> {
  let pending = cache.get(client);
  if (!pending) {
    pending = client.scene();
    cache.set(client, pending);
    pending.catch(() => cache.delete(client));
  }
  return pending;
}
