export * from './spaces.ts';
export * from './episode.ts';
export * from './config.ts';
export * from './health.ts';
export * from './modes.ts';
export * from './studio.ts';
export * from './scene.ts';
export * from './xr.ts';
