export * from './spaces.ts';
export * from './episode.ts';
export * from './config.ts';
export * from './health.ts';
