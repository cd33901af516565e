import { readFileSync } from 'node:fs';
import loadMujoco, { type MainModule, type MjData, type MjModel } from 'mujoco-js';

let modulePromise: Promise<MainModule> | undefined;
let modelCount = 0;

/** The MuJoCo wasm module, loaded once per process (about 0.2 s). */
export function mujoco(): Promise<MainModule> {
  modulePromise ??= loadMujoco().then((mj) => {
    mj.FS.mkdir('/models');
    return mj;
  });
  return modulePromise;
}

/** Loads an MJCF file from disk into a new model and its data; the caller deletes both. */
export async function loadModel(
  path: URL,
): Promise<{ mj: MainModule; model: MjModel; data: MjData }> {
  const mj = await mujoco();
  const file = `/models/m${modelCount++}.xml`;
  mj.FS.writeFile(file, readFileSync(path, 'utf8'));
  try {
    const model = mj.MjModel.loadFromXML(file);
    return { mj, model, data: new mj.MjData(model) };
  } finally {
    mj.FS.unlink(file);
  }
}

/** Id of a named MuJoCo object; throws if the model has none of that name. */
export function idOf(mj: MainModule, model: MjModel, type: number, name: string): number {
  const id = mj.mj_name2id(model, type, name);
  if (id < 0) throw new Error(`the model has no object named ${name} (type ${type})`);
  return id;
}
