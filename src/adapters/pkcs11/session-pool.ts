/**
 * PKCS#11 allows one active operation per session, so every call that leaves the event loop
 * borrows a session of its own and gives it back when the token has answered.
 */
export class SessionPool<Session> {
  private readonly idle: Session[];
  private readonly waiting: Array<(session: Session) => void> = [];

  constructor(sessions: readonly Session[]) {
    if (sessions.length === 0) throw new RangeError('a session pool needs at least one session');
    this.idle = [...sessions];
  }

  async use<T>(work: (session: Session) => Promise<T>): Promise<T> {
    const session = this.idle.pop() ?? (await new Promise<Session>((resolve) => this.waiting.push(resolve)));
    try {
      return await work(session);
    } finally {
      const next = this.waiting.shift();
      if (next) next(session);
      else this.idle.push(session);
    }
  }
}
