// The desktop window's preload (bundled by build.ts into dist/main/preload.cjs: a sandboxed
// preload cannot load modules other than Electron's). It exposes `window.tandem` and nothing else.
import { contextBridge, ipcRenderer } from 'electron';
import { exposeApi } from './preload-api.ts';

exposeApi(contextBridge, ipcRenderer);
