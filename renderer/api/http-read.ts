import { z } from 'zod';
import { Episode } from '../../src/protocol/episode.ts';
import { StudioInfo } from '../../src/protocol/rpc.ts';

/**
 * The studio's HTTP read API (served beside the RPC, on the page's own origin by default): what
 * StudioClient.about() reads, and the episode list for tools outside the renderer (the renderer
 * lists episodes over the RPC). Every answer is parsed by its schema.
 */
export class HttpReadApi {
  readonly #base: string;

  constructor(base = '') {
    this.#base = base;
  }

  status(): Promise<StudioInfo> {
    return this.#get('/api/status', StudioInfo);
  }

  listEpisodes(): Promise<Episode[]> {
    return this.#get('/api/episodes', z.array(Episode));
  }

  async #get<T>(path: string, schema: z.ZodType<T>): Promise<T> {
    const response = await fetch(this.#base + path);
    if (!response.ok) throw new Error(`${path}: the studio answered ${response.status}`);
    const parsed = schema.safeParse(await response.json());
    if (!parsed.success) {
      throw new Error(`${path}: unexpected answer: ${z.prettifyError(parsed.error)}`);
    }
    return parsed.data;
  }
}
