// Errors inside the deploy environment: a stable code and a sentence for the console.
export class AgentError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AgentError';
  }
}
