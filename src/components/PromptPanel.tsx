import { useId, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/use-store.ts';
import { useFocusHandoff } from '../use-focus-handoff.ts';
import { SamplingControls } from './SamplingControls.tsx';
import { StatsView } from './StatsView.tsx';

/** The prompt, Generate / Stop, chat mode, and the streamed output. */
export function PromptPanel() {
  const id = useId();
  const { prompt, setPrompt, chat, setChat, hasTemplate, loaded, generating, generate, stop, output, outputPrompt } = useStore(
    useShallow((s) => ({
      prompt: s.prompt,
      setPrompt: s.setPrompt,
      chat: s.chat,
      setChat: s.setChat,
      hasTemplate: !!s.modelInfo?.hasChatTemplate,
      loaded: s.modelStatus === 'loaded',
      generating: s.generating,
      generate: s.generate,
      stop: s.stopGeneration,
      output: s.output,
      outputPrompt: s.outputPrompt,
    })),
  );
  const canGenerate = loaded && !generating && prompt.trim().length > 0;
  const generateRef = useRef<HTMLButtonElement>(null);
  const stopRef = useRef<HTMLButtonElement>(null);
  useFocusHandoff(generating, stopRef, generateRef);
  return (
    <section className="panel prompt-panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Prompt</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (canGenerate) void generate();
        }}
      >
        <div className="field wide">
          <label htmlFor={`${id}-prompt`}>Prompt text</label>
          <textarea
            id={`${id}-prompt`}
            data-testid="prompt"
            rows={4}
            value={prompt}
            placeholder="Type a prompt…"
            aria-describedby={`${id}-prompt-hint`}
            onChange={(e) => setPrompt(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                if (canGenerate) void generate();
              }
            }}
          />
          <small id={`${id}-prompt-hint`} className="hint">
            {loaded ? 'Ctrl+Enter generates.' : 'Load a model first.'}
          </small>
        </div>
        <div className="button-row">
          <button type="submit" ref={generateRef} data-testid="generate-button" disabled={!canGenerate}>
            Generate
          </button>
          <button type="button" ref={stopRef} className="secondary" data-testid="stop-button" onClick={stop} disabled={!generating}>
            Stop
          </button>
          <label className="toggle" title={hasTemplate ? undefined : 'This model has no chat template'}>
            <input type="checkbox" data-testid="chat-toggle" checked={chat && hasTemplate} disabled={!hasTemplate || generating} onChange={(e) => setChat(e.target.checked)} />
            Chat mode {loaded && !hasTemplate && <span className="hint">(no chat template)</span>}
          </label>
        </div>
        <SamplingControls />
      </form>
      <div className="output-wrap">
        <h3 className="sr-only">Output</h3>
        {outputPrompt && !chat && <span className="output-prompt">{outputPrompt}</span>}
        <output className="output" data-testid="output" aria-live="polite" aria-busy={generating}>
          {output}
        </output>
        {!output && !generating && <span className="hint">The model’s continuation appears here.</span>}
      </div>
      <StatsView />
    </section>
  );
}
