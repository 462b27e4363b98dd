import { useId, useRef } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/use-store.ts';
import { useFocusHandoff } from '../use-focus-handoff.ts';
import { ChatHistory } from './ChatHistory.tsx';
import { SamplingControls } from './SamplingControls.tsx';
import { StatsView } from './StatsView.tsx';

/** The chat: a system prompt, the conversation, the message being typed with Send / Stop / New chat, sampling. */
export function ChatPanel() {
  const id = useId();
  const { prompt, setPrompt, systemPrompt, setSystemPrompt, hasTemplate, loaded, generating, generate, stop, newChat, turns } = useStore(
    useShallow((s) => ({
      prompt: s.prompt,
      setPrompt: s.setPrompt,
      systemPrompt: s.systemPrompt,
      setSystemPrompt: s.setSystemPrompt,
      hasTemplate: !!s.modelInfo?.hasChatTemplate,
      loaded: s.modelStatus === 'loaded',
      generating: s.generating,
      generate: s.generate,
      stop: s.stopGeneration,
      newChat: s.newChat,
      turns: s.messages.length,
    })),
  );
  const canSend = loaded && !generating && prompt.trim().length > 0;
  const inputRef = useRef<HTMLTextAreaElement>(null);
  const stopRef = useRef<HTMLButtonElement>(null);
  // Stop while the reply streams; the message box (ready for the next turn) when it ends
  useFocusHandoff(generating, stopRef, inputRef);
  return (
    <section className="panel prompt-panel" aria-labelledby={`${id}-h`}>
      <h2 id={`${id}-h`}>Chat</h2>
      <div className="field wide">
        <label htmlFor={`${id}-system`}>System prompt</label>
        <textarea
          id={`${id}-system`}
          data-testid="system-prompt"
          rows={2}
          value={systemPrompt}
          placeholder="Optional: instructions for the whole conversation"
          onChange={(e) => setSystemPrompt(e.target.value)}
        />
      </div>
      {loaded && !hasTemplate && (
        <p className="hint" data-testid="chat-format">
          This model has no chat template: the conversation reaches it as its messages joined as plain text, which it
          continues.
        </p>
      )}
      <ChatHistory />
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (canSend) void generate();
        }}
      >
        <div className="field wide">
          <label htmlFor={`${id}-prompt`}>Message</label>
          <textarea
            id={`${id}-prompt`}
            ref={inputRef}
            data-testid="prompt"
            rows={3}
            value={prompt}
            placeholder="Type a message…"
            aria-describedby={`${id}-prompt-hint`}
            onChange={(e) => setPrompt(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
                e.preventDefault();
                if (canSend) void generate();
              }
            }}
          />
          <small id={`${id}-prompt-hint`} className="hint">
            {loaded ? 'Ctrl+Enter sends.' : 'Load a model first.'}
          </small>
        </div>
        <div className="button-row">
          <button type="submit" data-testid="generate-button" disabled={!canSend}>
            Send
          </button>
          <button type="button" ref={stopRef} className="secondary" data-testid="stop-button" onClick={stop} disabled={!generating}>
            Stop
          </button>
          <button type="button" className="secondary" data-testid="new-chat" onClick={newChat} disabled={turns === 0 && !generating}>
            New chat
          </button>
        </div>
        <SamplingControls />
      </form>
      <StatsView />
    </section>
  );
}
