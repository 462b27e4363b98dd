import { useShallow } from 'zustand/react/shallow';
import { useStore } from '../store/use-store.ts';

const ROLE_LABEL: Record<string, string> = { user: 'You', assistant: 'Model', system: 'System' };

/**
 * The conversation, the reply streaming in last. The newest reply (streaming or done) is `output`. A conversation
 * that outgrew the context says so here, with the offer to drop its oldest turns.
 */
export function ChatHistory() {
  const { messages, output, generating, overflow, trimAndRetry } = useStore(
    useShallow((s) => ({ messages: s.messages, output: s.output, generating: s.generating, overflow: s.overflow, trimAndRetry: s.trimAndRetry })),
  );
  const shown = generating ? [...messages, { role: 'assistant', content: output }] : messages;
  const lastReply = shown.map((m) => m.role).lastIndexOf('assistant');
  return (
    <div className="output-wrap chat-history" data-testid="chat-history" aria-live="polite" aria-busy={generating}>
      <h3 className="sr-only">Conversation</h3>
      {shown.length === 0 && <span className="hint">The conversation appears here.</span>}
      <ol className="chat-turns">
        {shown.map((m, i) => (
          <li key={i} className={`chat-turn ${m.role}`} data-testid="chat-message" data-role={m.role}>
            <span className="chat-role">{ROLE_LABEL[m.role] ?? m.role}</span>
            <span className="chat-text" data-testid={i === lastReply ? 'output' : undefined}>
              {m.content}
            </span>
          </li>
        ))}
      </ol>
      {overflow && (
        <div className="chat-overflow" role="alert" data-testid="context-overflow">
          <p>
            This conversation is {overflow.promptTokens} tokens, more than the {overflow.contextLength} the model's
            context holds.{' '}
            {overflow.trimTurns === null
              ? 'Even its last message alone does not fit: start a new chat, or load the model with a longer context.'
              : `Dropping the ${overflow.trimTurns === 1 ? 'oldest turn' : `${overflow.trimTurns} oldest turns`} makes it fit.`}
          </p>
          {overflow.trimTurns !== null && (
            <button type="button" data-testid="trim-turns" onClick={() => void trimAndRetry()}>
              Drop the {overflow.trimTurns === 1 ? 'oldest turn' : `${overflow.trimTurns} oldest turns`} and answer again
            </button>
          )}
        </div>
      )}
    </div>
  );
}
