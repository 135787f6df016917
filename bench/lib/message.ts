/**
 * The benchmark message: an ~11 KB text/plain email (7bit), the same for every competitor.
 * Its Subject carries the run id and sequence number, which the sink reads to time each
 * message's final 250 (`bench <run> <seq>`), so no competitor needs custom-header support.
 */
export const SENDER = 'sender@bench.mailgate.test';
export const RECIPIENT = 'rcpt@bench.example.test';

function buildBody(): string {
  const line = 'Mailgate benchmark body line: the quick brown fox jumps over the lazy dog 0123456789.';
  const lines: string[] = [];
  for (let i = 0; lines.join('\r\n').length < 10_900; i++) lines.push(`${String(i).padStart(4, '0')} ${line}`);
  return lines.join('\r\n');
}

export const BODY_TEXT = buildBody();

export function subjectFor(run: string, seq: number): string {
  return `bench ${run} ${seq}`;
}

/** Parse a Subject written by subjectFor. */
export function parseSubject(subject: string): { run: string; seq: number } | undefined {
  const m = /^bench (\S+) (\d+)\s*$/.exec(subject);
  return m ? { run: m[1], seq: Number(m[2]) } : undefined;
}

/**
 * A well-formed JWT of about 2,041 bytes (the size of a real Entra token); the sink accepts any
 * token. For Graph (`aud` https://graph.microsoft.com, role Mail.Send): Mailgate refuses to send
 * an Outlook-audience token to Graph.
 */
export function fakeAccessToken(resource: 'outlook' | 'graph' = 'outlook'): string {
  const head = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid: 'bench' })).toString('base64url');
  const sig = 'S'.repeat(342);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  let token = '';
  for (let pad = 1000; pad < 2000; pad++) {
    const claims = resource === 'graph'
      ? { aud: 'https://graph.microsoft.com', iss: 'https://sts.windows.net/bench/', exp, roles: ['Mail.Send'], pad: 'x'.repeat(pad) }
      : { aud: 'https://outlook.office365.com', iss: 'https://sts.windows.net/bench/', exp, roles: ['SMTP.SendAsApp'], pad: 'x'.repeat(pad) };
    token = `${head}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${sig}`;
    if (token.length >= 2041) break;
  }
  return token;
}
