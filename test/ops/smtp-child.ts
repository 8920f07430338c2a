/**
 * A real SMTP server in its own process for the notification tests (the `smtp-server` package): STARTTLS with
 * the certificate it is given, AUTH PLAIN/LOGIN only after TLS, one account. It prints JSON lines on stdout:
 * { port } once listening, then { message } for each message accepted. SMTP_FAIL_FIRST=N answers the first N
 * messages with 451 (try again later), to test retries.
 */
import { readFileSync } from 'node:fs';
import { SMTPServer } from 'smtp-server';

const env = process.env;
let failFirst = Number(env.SMTP_FAIL_FIRST ?? 0);
const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);

const server = new SMTPServer({
  secure: false,
  key: readFileSync(env.SMTP_KEY!),
  cert: readFileSync(env.SMTP_CERT!),
  authMethods: ['PLAIN', 'LOGIN'],
  allowInsecureAuth: false,
  logger: false,
  onAuth(auth, _session, callback) {
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
