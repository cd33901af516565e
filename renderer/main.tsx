import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { HttpStudioClient } from './api/client.ts';
import { StudioProvider } from './api/studio-context.tsx';
import { WsStudioClient } from './api/ws-client.ts';
import { App } from './App.tsx';
import './styles.css';

const root = document.getElementById('root');
if (!root) throw new Error('index.html has no #root element');
// One client for the page's lifetime, shared by every screen through the provider.
const client = new WsStudioClient();
createRoot(root).render(
  <StrictMode>
    <StudioProvider client={client}>
      <App info={new HttpStudioClient()} />
    </StudioProvider>
  </StrictMode>,
);
