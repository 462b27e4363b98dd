import { useEffect } from 'react';
import './charts/chart-setup.ts';
import { CompareChart } from './charts/CompareChart.tsx';
import { CachePanel } from './components/CachePanel.tsx';
import { LoadChart } from './charts/LoadChart.tsx';
import { VramChart } from './charts/VramChart.tsx';
import { EngineBanner } from './components/EngineBanner.tsx';
import { ErrorBanner } from './components/ErrorBanner.tsx';
import { ChatPanel } from './components/ChatPanel.tsx';
import { GpuPanel } from './components/GpuPanel.tsx';
import { HubAccess } from './components/HubAccess.tsx';
import { LoadControls } from './components/LoadControls.tsx';
import { ModelPicker } from './components/ModelPicker.tsx';
import { PlanView } from './components/PlanView.tsx';
import { RunsTable } from './components/RunsTable.tsx';
import { useStore } from './store/use-store.ts';
import { useMemoryPolling } from './use-memory-polling.ts';

export function App() {
  const connectGpu = useStore((s) => s.connectGpu);
  useEffect(() => {
    void connectGpu();
  }, [connectGpu]);
  useMemoryPolling();
  return (
    <main className="app">
      <header className="app-header">
        <h1>WebGPU LLM</h1>
        <p className="tagline">Streams safetensors into GPU memory in half precision, quantizes to int8 while loading.</p>
      </header>
      <EngineBanner />
      <ErrorBanner />
      <div className="columns">
        <div className="col">
          <GpuPanel />
          <section className="panel" aria-labelledby="model-h">
            <h2 id="model-h">Load a model</h2>
            <ModelPicker />
            <HubAccess />
            <PlanView />
            <LoadControls />
          </section>
        </div>
        <div className="col">
          <ChatPanel />
        </div>
      </div>
      <div className="charts">
        <VramChart />
        <LoadChart />
        <CompareChart />
      </div>
      <RunsTable />
      <CachePanel />
    </main>
  );
}
