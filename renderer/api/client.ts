import { z } from 'zod';
import { Episode } from '../../src/protocol/episode.ts';

/** What the studio reports about itself. */
export const StudioStatus = z.object({
  version: z.string(),
  dbPath: z.string(),
  episodes: z.number().int().nonnegative(),
});
export type StudioStatus = z.infer<typeof StudioStatus>;

/**
 * The renderer's one way to reach the studio. Every answer is parsed by its schema, so a studio of
 * another version fails with a message naming the field instead of drawing garbage.
 */
export interface StudioClient {
  status(): Promise<StudioStatus>;
  listEpisodes(): Promise<Episode[]>;
}

/** The studio served over HTTP on the page's own origin (the browser host). */
export class HttpStudioClient implements StudioClient {
  readonly #base: string;

  constructor(base = '') {
    this.#base = base;
  }

  status(): Promise<StudioStatus> {
    return this.#get('/api/status', StudioStatus);
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
