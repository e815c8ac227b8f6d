// A user's `tokenFile:` — the field kubectl reads and @kubernetes/client-node 1.4 does not (it
// knows only `token-file`), so without this the token was never sent. The file rotates (projected
// ServiceAccount tokens, CI secrets): it is read at use and read again whenever it changed.
import { readFileSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse } from 'yaml';

/**
 * The `tokenFile` of user `userName` in the first of `files` that defines that user (kubectl's
 * merge rule: the first file to name it wins), made absolute against that file's folder.
 */
export function findTokenFile(files: string[], userName: string): string | undefined {
  for (const f of files) {
    let doc: { users?: { name?: string; user?: Record<string, unknown> }[] } | null;
    try {
      doc = parse(readFileSync(f, 'utf8')) as typeof doc;
    } catch {
      continue; // the library reported (or will report) what is wrong with it
    }
    const entry = (Array.isArray(doc?.users) ? doc!.users : []).find((u) => u?.name === userName);
    if (!entry) continue;
    const tf = entry.user?.tokenFile ?? entry.user?.['token-file'];
    return typeof tf === 'string' && tf ? (isAbsolute(tf) ? tf : resolve(dirname(f), tf)) : undefined;
  }
  return undefined;
}

export class TokenFile {
  private seen?: { key: string; token: string };

  constructor(readonly path: string) {}

  /** The token now in the file; read again only when its inode, size or mtime changed. */
  async token(): Promise<string> {
    let key: string;
    try {
      const s = await stat(this.path);
      key = `${s.ino}:${s.size}:${s.mtimeMs}`;
      if (this.seen?.key === key) return this.seen.token;
      const token = (await readFile(this.path, 'utf8')).trim();
      this.seen = { key, token };
      return token;
    } catch (e) {
      throw new Error(`cannot read the kubeconfig's tokenFile ${this.path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
}
