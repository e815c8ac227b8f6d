// Jupyter's own password hash format, as `jupyter_server.auth.passwd(algorithm="sha1")` writes it:
// "sha1:<12 hex salt>:<hex sha1(password + salt)>". Jupyter checks it with passwd_check, so the
// password itself never reaches a command line, a container or a file.
import { createHash, createHmac } from 'node:crypto';

/**
 * The salt is derived (not random) so the same file gives the same hash on every run: the
 * Deployment built from it stays unchanged and `serve` twice changes nothing. `saltSeed`
 * (the env file's absolute path) keeps equal passwords in different environments apart.
 */
export function hashJupyterPassword(password: string, saltSeed: string): string {
  const salt = createHmac('sha256', saltSeed).update(password).digest('hex').slice(0, 12);
  const digest = createHash('sha1').update(Buffer.from(password, 'utf8')).update(Buffer.from(salt, 'ascii')).digest('hex');
  return `sha1:${salt}:${digest}`;
}
