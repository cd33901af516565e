import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { createStudioClient } from './api/create-client.ts';
import { StudioProvider } from './api/studio-context.tsx';
import { App } from './App.tsx';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
// One client for the page's lifetime, shared by every screen through the provider: over the
// preload bridge in the desktop app, over the WebSocket RPC in a browser.
const client = createStudioClient();
createRoot(root).render(
  <StrictMode>
    <StudioProvider client={client}>
      <App />
    </StudioProvider>
  </StrictMode>,
);
