import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { HttpStudioClient } from './api/client.ts';
import { App } from './App.tsx';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
createRoot(root).render(
  <StrictMode>
    <App client={new HttpStudioClient()} />
  </StrictMode>,
);
