/**
 * A real SMTP server in its own process for the notification tests (the `smtp-server` package): STARTTLS (or
 * TLS from the start with SMTP_SECURE=1) with the certificate it is given, AUTH PLAIN/LOGIN only after TLS, one account. It prints JSON lines on stdout:
 * { port } once listening, { auth } for each AUTH attempt, then { message } for each message accepted. SMTP_FAIL_FIRST=N answers the first N
 * messages with 451 (try again later), to test retries.
 */
import { readFileSync } from 'node:fs';
import { SMTPServer } from 'smtp-server';

const env = process.env;
let failFirst = Number(env.SMTP_FAIL_FIRST ?? 0);
const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const server = new SMTPServer({
  // SMTP_SECURE=1: TLS from the first byte (SMTPS); else plain with STARTTLS offered
  secure: env.SMTP_SECURE === '1',
  // SMTP_NO_STARTTLS=1: a server (or a man in the middle) that does not offer STARTTLS, and takes AUTH in clear
  disabledCommands: env.SMTP_NO_STARTTLS === '1' ? ['STARTTLS'] : [],
  key: readFileSync(env.SMTP_KEY!),
  cert: readFileSync(env.SMTP_CERT!),
  authMethods: ['PLAIN', 'LOGIN'],
  allowInsecureAuth: env.SMTP_NO_STARTTLS === '1',
  logger: false,
  onAuth(auth, session, callback) {
    print({ auth: { user: auth.username, secure: session.secure } });
    if (auth.username === env.SMTP_USER && auth.password === env.SMTP_PASSWORD) return callback(null, { user: auth.username });
    return callback(new Error('Invalid username or password'));
  },
  onData(stream, session, callback) {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      if (failFirst > 0) {
        failFirst--;
        print({ refused: true });
        return callback(Object.assign(new Error('try again later'), { responseCode: 451 }));
      }
      print({
        message: {
          raw: Buffer.concat(chunks).toString('utf8'),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
          to: session.envelope.rcptTo.map((r) => r.address),
          secure: session.secure,
          user: session.user ?? null,
        },
      });
      callback();
    });
  },
});
server.listen(0, '127.0.0.1', () => {
  const address = server.server.address();
  print({ port: typeof address === 'object' && address ? address.port : 0 });
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
