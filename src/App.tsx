import { useEffect } from 'react';
import { GpuPanel } from './components/GpuPanel.tsx';
import { useStore } from './store.ts';

export function App() {
  const connectGpu = useStore((s) => s.connectGpu);
  useEffect(() => {
    void connectGpu();
  }, [connectGpu]);
  return (
    <main className="app">
      <header>
        <h1>WebGPU LLM</h1>
        <p className="tagline">Streams safetensors into GPU memory in half precision, quantizes to int8 while loading.</p>
      </header>
      <GpuPanel />
    </main>
  );
}
